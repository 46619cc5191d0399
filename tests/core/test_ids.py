import pytest

from cryosse.core.ids import (
    entry_origin,
    entry_rng,
    fits_reserved_range,
    is_valid_emdb_id,
    is_valid_pdb_id,
    normalize_emdb_id,
    normalize_pdb_id,
    reserved_entry_id,
    sample_id,
    upper_pdb_id,
)
from cryosse.core.reasons import DataError, Reason


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("EMD-1234", "EMD-1234"),
        ("emd-12345", "EMD-12345"),
        ("5168", "EMD-5168"),
        (" EMD-0093 ", "EMD-0093"),
        # the XSD's EMD-\d{4,}: six- and seven-digit ids come when the five-digit ones run out
        ("EMD-123456", "EMD-123456"),
        ("emd-1234567", "EMD-1234567"),
    ],
)
def test_emdb_ids_are_normalised(raw: str, expected: str) -> None:
    assert normalize_emdb_id(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "EMD-123",
        "EMD-12345678",
        "EMD-12a4",
        "../EMD-1234",
        "EMD-1234/..",
        "EMD-1234; rm -rf /",
        "",
        "EMD_1234",
        "EMD-\u0661\u0662\u0663\u0664",  # Arabic-Indic digits match \\d, not [0-9]
        "EMD-１２３４",  # fullwidth digits
    ],
)
def test_bad_emdb_ids_are_refused(raw: str) -> None:
    with pytest.raises(DataError) as info:
        normalize_emdb_id(raw)
    assert info.value.reason == Reason.INVALID_ID


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("5ME2", "5me2"),
        ("1abc", "1abc"),
        ("pdb_00001abc", "pdb_00001abc"),
        ("PDB_00005ME2", "pdb_00005me2"),
    ],
)
def test_pdb_ids_accept_classic_and_extended_forms(raw: str, expected: str) -> None:
    assert normalize_pdb_id(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "0abc",
        "abcd",
        "1ab",
        "1abcd",
        "pdb_1abc",
        "pdb_0000abcd",
        "../1abc",
        "1a/c",
        "1\u017fbc",
        "1K\u212abc",
    ],  # long s and Kelvin sign fold to s/k under IGNORECASE without ASCII
)
def test_bad_pdb_ids_are_refused(raw: str) -> None:
    with pytest.raises(DataError):
        normalize_pdb_id(raw)


def test_sample_id_refuses_unsafe_chain_names() -> None:
    assert sample_id("EMD-3488", "5ME2", "A") == "EMD-3488_5me2_A"
    with pytest.raises(DataError):
        sample_id("EMD-3488", "5me2", "../A")


def test_upper_case_pdb_ids_keep_the_extended_prefix_lower_case() -> None:
    assert upper_pdb_id("5me2") == "5ME2"
    assert upper_pdb_id("PDB_00001abc") == "pdb_00001ABC"


def test_validity_checks_agree_with_normalisation() -> None:
    assert is_valid_emdb_id(" emd-1234 ") and not is_valid_emdb_id("EMD-12")
    assert not is_valid_emdb_id(1234)  # type: ignore[arg-type]
    assert is_valid_pdb_id("PDB_00001abc") and not is_valid_pdb_id("0abc")


def test_reserved_ranges_tell_the_origin_and_refuse_strays() -> None:
    assert entry_origin("EMD-92000") == entry_origin("EMD-99999") == "simulated"
    assert entry_origin("91999") == "derived" and entry_origin("EMD-90010") == "emdb"
    assert reserved_entry_id("emd-91000", "derived") == "EMD-91000"
    with pytest.raises(ValueError, match=r"EMD-8518 is outside the simulated range \(92000"):
        reserved_entry_id("EMD-8518", "simulated")
    assert fits_reserved_range(91000, 91999, "derived")
    assert not fits_reserved_range(91999, 92000, "derived")


def test_entry_rng_is_keyed_by_seed_entry_and_source() -> None:
    draw = entry_rng(1, "EMD-92000", "2xcj").random()
    assert draw == entry_rng(1, "EMD-92000", "2xcj").random()
    assert draw != entry_rng(2, "EMD-92000", "2xcj").random()
    assert draw != entry_rng(1, "EMD-92000", "2xcK").random()
