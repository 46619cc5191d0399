"""`cryosse segment`: a trained model on any map, tiled, with ChimeraX commands; and the
shipped default model's making (`ship-model`)."""
