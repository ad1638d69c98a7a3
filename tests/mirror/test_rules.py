"""The mirror's rules, read from settings or a YAML/JSON file: which upstream may supply which repository."""

from __future__ import annotations

from pathlib import Path

import pytest

from haven.config import Settings
from haven.mirror.rules import Upstream, licenses_of, load


def test_one_upstream_from_settings_with_its_rules(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        mirror_upstream="https://hub.example/",
        mirror_upstream_token="tok",
        mirror_allow=["google/*", "meta-*/*"],
        mirror_deny=["google/secret-*"],
    )
    cfg = load(settings)
    assert cfg.enabled and cfg.upstreams[0].url == "https://hub.example"
    assert cfg.upstream_for("model", "google/bert") is cfg.upstreams[0]
    assert cfg.upstream_for("model", "meta-llama/llama") is cfg.upstreams[0]
    assert cfg.upstream_for("model", "google/secret-model") is None  # deny wins
    assert cfg.upstream_for("space", "google/bert") is None  # spaces are not mirrored by default
    assert cfg.upstream_for("model", "other/bert") is None


def test_no_upstream_means_mirror_mode_is_off(tmp_path: Path) -> None:
    assert not load(Settings(data_dir=tmp_path)).enabled


def test_several_upstreams_from_a_yaml_file_first_match_wins(tmp_path: Path) -> None:
    path = tmp_path / "mirror.yaml"
    path.write_text(
        "upstreams:\n"
        "  - {url: 'https://internal.example', allow: ['team/*'], repo_types: [model, dataset, space]}\n"
        "  - {url: 'https://hub.example', token: t, licenses: [mit]}\n"
    )
    cfg = load(Settings(data_dir=tmp_path, mirror_config=path))
    assert cfg.upstream_for("space", "team/demo").url == "https://internal.example"  # type: ignore[union-attr]
    public = cfg.upstream_for("model", "org/model")
    assert public is not None and public.token == "t"
    assert public.admits_license({"cardData": {"license": "mit"}})
    assert public.admits_license({"tags": ["license:mit"]})
    assert not public.admits_license({"cardData": {"license": "gpl-3.0"}})
    assert not public.admits_license({})  # a licence list admits only repositories that name one of them


def test_a_broken_config_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "mirror.json"
    path.write_text('{"upstreams": [{"token": "no url"}]}')
    with pytest.raises(ValueError, match="url"):
        load(Settings(data_dir=tmp_path, mirror_config=path))


def test_licences_come_from_the_card_and_the_tags() -> None:
    info = {"cardData": {"license": ["apache-2.0", "mit"]}, "tags": ["license:cc-by-4.0", "text-generation"]}
    assert licenses_of(info) == ["apache-2.0", "mit", "cc-by-4.0"]
    assert Upstream(url="u").admits_license({})  # no licence list: anything
