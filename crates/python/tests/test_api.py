"""The public names: each documented, the classes' methods too, and help() renders them."""

from __future__ import annotations

import inspect
import pydoc

import abforge


def test_every_public_name_and_method_has_a_docstring():
    for name in abforge.__all__:
        if name == "__version__":
            continue
        obj = getattr(abforge, name)
        assert (obj.__doc__ or "").strip(), name
        if inspect.isclass(obj) and obj is not abforge.BlueprintError:
            for attr, member in vars(obj).items():
                if not attr.startswith("_"):
                    assert (member.__doc__ or "").strip(), f"{name}.{attr}"


def test_help_shows_signatures_and_the_distribution_name():
    text = pydoc.render_doc(abforge, renderer=pydoc.plaintext)
    assert "abforge-lab" in text
    text = pydoc.render_doc(abforge.Blueprint, renderer=pydoc.plaintext)
    assert "generate(self, /, customers=None, seed=None, shard=None)" in text
    assert "from_toml(source)" in text
    assert str(inspect.signature(abforge.analyze)).startswith("(data: 'Any', metrics:")
