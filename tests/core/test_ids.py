import pytest

from cryosse.core.ids import normalize_emdb_id, normalize_pdb_id, sample_id, upper_pdb_id
from cryosse.core.reasons import CurationError, Reason


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
    with pytest.raises(CurationError) as info:
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
    with pytest.raises(CurationError):
        normalize_pdb_id(raw)


def test_sample_id_refuses_unsafe_chain_names() -> None:
    assert sample_id("EMD-3488", "5ME2", "A") == "EMD-3488_5me2_A"
    with pytest.raises(CurationError):
        sample_id("EMD-3488", "5me2", "../A")


def test_upper_case_pdb_ids_keep_the_extended_prefix_lower_case() -> None:
    assert upper_pdb_id("5me2") == "5ME2"
    assert upper_pdb_id("PDB_00001abc") == "pdb_00001ABC"
