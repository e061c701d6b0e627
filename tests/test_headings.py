"""Model Markdown inside our documents: its headings are demoted below the document's own."""

from __future__ import annotations

from chat.headings import demote_headings


def test_the_highest_heading_lands_at_level_five_and_the_others_keep_their_rank() -> None:
    assert demote_headings("# A\n\n## B\n\n### C\n") == "##### A\n\n###### B\n\n###### C\n"


def test_headings_already_deep_enough_stay_as_they_are() -> None:
    assert demote_headings("##### A\n\n###### B") == "##### A\n\n###### B"


def test_a_setext_heading_becomes_a_demoted_atx_heading() -> None:
    assert demote_headings("Title\n=====\nBody\n\nPart\n----\n") == "##### Title\nBody\n\n###### Part\n"


def test_a_heading_in_a_code_block_is_left_alone() -> None:
    text = "```\n# comment\n```\n\n    # indented code\n"

    assert demote_headings(text) == text


def test_a_heading_inside_a_quote_or_a_list_is_demoted_in_place() -> None:
    assert demote_headings("> ## Quoted\n\n- # Listed\n") == "> ###### Quoted\n\n- ##### Listed\n"


def test_a_thematic_break_is_not_a_heading() -> None:
    text = "Text\n\n---\n\nMore"

    assert demote_headings(text) == text


def test_text_without_a_heading_is_unchanged() -> None:
    assert demote_headings("Just # a hash\nand #tags") == "Just # a hash\nand #tags"
