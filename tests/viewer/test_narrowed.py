"""Reading candidate row groups in batches: one DuckDB query per batch, batches growing, but a word found in
every row group reads about the row groups its page needs, not the next power of two."""

from __future__ import annotations

from haven.viewer import narrowed


def test_batches_double_while_nothing_is_found() -> None:
    assert [narrowed._next_size(size, 0, 0, 100) for size in (1, 2, 16, 32)] == [2, 4, 32, narrowed.MAX_BATCH]


def test_batches_stop_at_what_the_matches_so_far_say_the_page_needs() -> None:
    # 15 row groups gave 75 matches (5 each): 5 more fill a page of 100, where doubling would read 16
    assert narrowed._next_size(8, 15, 75, 100) == 5
    assert narrowed._next_size(8, 15, 99, 100) == 1  # never zero
    assert narrowed._next_size(1, 1, 1, 100) == 2  # still growing when the page is far off


def test_once_the_page_is_full_counting_goes_in_small_batches() -> None:
    assert narrowed._next_size(32, 64, 100, 100) == narrowed.COUNT_BATCH
