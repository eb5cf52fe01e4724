import subprocess
import sys

import pytest

from perfkata.errors import KataDefinitionError, KataNotFound
from perfkata.katas.base import define_kata
from perfkata.katas.registry import Registry, get_kata, registry


def blog_options(**changes):
    kata = get_kata("n-plus-one-blog")
    options = {name: getattr(kata, name) for name in kata.__dataclass_fields__}
    options.update(changes)
    return options


def test_unknown_option_is_rejected_with_a_suggestion():
    with pytest.raises(KataDefinitionError, match="Did you mean 'hints'"):
        define_kata(**blog_options(hintz=("a", "b", "c")))


def test_duplicate_slug_is_an_error():
    fresh = Registry()
    fresh.add(define_kata(**blog_options()))
    with pytest.raises(KataDefinitionError, match="already registered"):
        fresh.add(define_kata(**blog_options()))


def test_fewer_than_three_hints_is_an_error():
    with pytest.raises(KataDefinitionError, match="three progressive hints"):
        define_kata(**blog_options(hints=("only one",)))


def test_unknown_kata_lists_close_matches():
    with pytest.raises(KataNotFound, match="did you mean n-plus-one-blog"):
        get_kata("n-plus-one-blo")


def test_unknown_kata_far_from_every_name_lists_them_all_without_guessing():
    # Given a name like no kata, When it is looked up, Then no guess, but every kata
    with pytest.raises(KataNotFound) as caught:
        get_kata("no-such-kata")
    assert "did you mean" not in caught.value.message
    assert all(slug in caught.value.message for slug in registry().slugs())


def test_builtin_kata_is_registered_with_its_brief():
    assert "n-plus-one-blog" in registry().slugs()
    assert get_kata("n-plus-one-blog").brief.startswith("# n-plus-one-blog")


def test_timing_size_beyond_the_largest_dataset_is_an_error():
    with pytest.raises(KataDefinitionError, match="timing_size"):
        define_kata(**blog_options(slug="too-big", timing_size=801))


def test_memory_is_traced_only_at_the_sizes_the_rubric_judges():
    assert get_kata("n-plus-one-blog").memory_sizes == (800,)  # "peak_bytes" at the largest
    assert get_kata("cleanup-cron").memory_sizes == (2000, 10000)  # "peak_bytes:tail"
    assert get_kata("cached-catalog").memory_sizes == ()  # no memory check


def test_one_kata_is_imported_without_the_others():
    # A worker grades one kata: the others' modules (redis, dramatiq, croniter with them)
    # stay unimported until every kata is listed — which then finds the same object.
    code = (
        "import sys\n"
        "from perfkata.katas.registry import get_kata, registry\n"
        "blog = get_kata('n-plus-one-blog')\n"
        "others = ('cached_catalog', 'cleanup_cron', 'report_worker', 'image_pipeline',\n"
        "          'dramatiq', 'croniter')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[-1] in others or\n"
        "             any(m.startswith(f'perfkata.katas.{o}') for o in others)))\n"
        "print(registry().get('n-plus-one-blog') is blog, len(registry().slugs()))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines() == ["[]", "True 5"]
