from pathlib import Path

import pytest

from cryosse.core.reasons import DataError, Reason
from cryosse.io.header import parse_header
from tests.conftest import DEMO_MIRROR


def test_demo_headers_parse() -> None:
    header = parse_header(DEMO_MIRROR / "emdb/structures/EMD-5168/header/emd-5168-v30.xml")
    assert header.emdb_id == "EMD-5168"
    assert header.resolution == pytest.approx(6.6)
    assert header.fitted_pdb_ids == ["3mfp"]
    assert header.map_file == "emd_5168.map.gz"
    assert header.voxel_size == pytest.approx((1.742, 1.742, 1.742), abs=1e-3)
    assert header.is_released
    assert header.contour_level is None  # not known for this entry, so not in the header


HEADER = """<?xml version="1.0" encoding="UTF-8"?>
<emd emdb_id="EMD-1234" version="3.0">
  <admin><current_status><code>{status}</code></current_status>
    <superseded_by_list><entry><entry>EMD-5678</entry></entry></superseded_by_list></admin>
  <crossreferences><pdb_list><pdb_reference><pdb_id>1abc</pdb_id></pdb_reference>
    <pdb_reference><pdb_id>2xyz</pdb_id></pdb_reference></pdb_list></crossreferences>
  <structure_determination_list><structure_determination><method>subtomogramAveraging</method>
    <subtomogram_averaging_processing><final_reconstruction>
      <resolution res_type="BY AUTHOR" units="Å">7.5</resolution>
    </final_reconstruction></subtomogram_averaging_processing>
  </structure_determination></structure_determination_list>
  <map format="CCP4" size_kbytes="512"><file>emd_1234.map.gz</file>
    <contour_list><contour primary="false"><level>0.5</level></contour>
      <contour primary="true"><level>1.25</level></contour></contour_list>
  </map>
  <interpretation><contour_list><contour primary="true"><level>99</level></contour>
  </contour_list></interpretation>
</emd>
"""


def test_v3_fields_and_contour_scoped_to_map(tmp_path: Path) -> None:
    path = tmp_path / "emd-1234-v30.xml"
    path.write_text(HEADER.format(status="OBS"), encoding="utf-8")
    header = parse_header(path)
    assert header.resolution == pytest.approx(7.5)
    assert header.method == "subtomogramAveraging"
    assert header.fitted_pdb_ids == ["1abc", "2xyz"]
    assert header.contour_level == pytest.approx(1.25)  # primary contour of <map>, not elsewhere
    assert header.map_size_kbytes == 512
    assert not header.is_released
    assert header.superseded_by == ["EMD-5678"]


def test_broken_and_missing_headers(tmp_path: Path) -> None:
    broken = tmp_path / "broken.xml"
    broken.write_text("<emd emdb_id='EMD-1234'><admin>", encoding="utf-8")
    with pytest.raises(DataError) as info:
        parse_header(broken)
    assert info.value.reason == Reason.HEADER_INVALID
    with pytest.raises(DataError) as info:
        parse_header(tmp_path / "absent.xml")
    assert info.value.reason == Reason.HEADER_MISSING


@pytest.mark.parametrize("flag", ["1", "true", " true "])
def test_primary_contour_is_an_xs_boolean(tmp_path: Path, flag: str) -> None:
    """xs:boolean allows "1" as well as "true"; the primary contour is found either way."""
    text = HEADER.format(status="REL").replace(
        'primary="true"><level>1.25', f'primary="{flag}"><level>1.25'
    )
    path = tmp_path / "emd-1234-v30.xml"
    path.write_text(text, encoding="utf-8")
    assert parse_header(path).contour_level == pytest.approx(1.25)
