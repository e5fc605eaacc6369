"""The drift page's figures read as people write them."""

from __future__ import annotations

import pytest

from oversight.drift_page import _change


@pytest.mark.parametrize(("share_change", "text"), [(-0.0001, "0.0 points"), (0.0004, "0.0 points"), (0.0, "0.0 points"),
                                                    (-0.012, "-1.2 points"), (0.034, "+3.4 points"), (None, "-")])
def test_a_change_in_share_that_rounds_to_nothing_is_not_signed(share_change, text):
    assert _change(share_change) == text
