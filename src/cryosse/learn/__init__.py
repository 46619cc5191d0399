"""Stage 4, training: the U-Net, the losses, the network's inputs, devices, checkpoints,
training runs, calibration. Entry point: `cryosse.learn.stage`."""
