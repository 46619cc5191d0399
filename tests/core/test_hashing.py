"""The one sha256 helper: bytes and streamed files agree with the published test vector."""

from pathlib import Path

from cryosse.core.hashing import sha256_bytes, sha256_file

ABC_SHA256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"  # FIPS 180-2


def test_bytes_digest_is_the_standard_one() -> None:
    assert sha256_bytes(b"abc") == ABC_SHA256


def test_file_digest_streams_across_blocks(tmp_path: Path) -> None:
    data = bytes(range(256)) * 9000  # 2.2 MiB: more than two read blocks
    path = tmp_path / "blob"
    path.write_bytes(data)
    assert sha256_file(path) == sha256_bytes(data)
    (tmp_path / "short").write_bytes(b"abc")
    assert sha256_file(str(tmp_path / "short")) == ABC_SHA256
