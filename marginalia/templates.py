"""Load the Jinja layouts: the site's own first, then the defaults."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from .errors import TemplateError

# The default layouts/ and theme/ ship inside the package; a site's own files of the same
# name take their place one by one.
DEFAULTS_DIR = Path(__file__).resolve().parent / "defaults"
LAYOUTS_DIR = "layouts"
SUMMARY_LAYOUT = "partials/summary.html"


def layout_dirs(site_dir: Path) -> list[Path]:
    """Return the folders searched for layouts, the site's own first."""
    dirs = [site_dir / LAYOUTS_DIR, DEFAULTS_DIR / LAYOUTS_DIR]
    return [d for i, d in enumerate(dirs) if d.is_dir() and d.resolve() not in
            {x.resolve() for x in dirs[:i]}]


def load_templates(site_dir: Path) -> jinja2.Environment:
    """Make a strict, autoescaping environment over the layout folders."""
    dirs = layout_dirs(site_dir)
    if not dirs:
        raise TemplateError("no layouts/ folder in the site or the engine", LAYOUTS_DIR)
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(d) for d in dirs], followlinks=False),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,
    )
    return env


def compile_layouts(env: jinja2.Environment) -> None:
    """Compile every layout now, so that forked workers share them; a broken one is
    left for render_template to report on the page that uses it."""
    for name in env.list_templates():
        try:
            env.get_template(name)
        except jinja2.TemplateError:
            continue


def summary_renderer(env: jinja2.Environment) -> Callable[..., Markup]:
    """Make summary(item), which listings call for each post: partials/summary.html
    with the page's variables and item.

    The engine's own summary depends only on the post and on the section whose page
    lists it, so it is rendered once a build for each pair, not on every listing page
    that shows the post; a site's own is rendered at every call.
    """
    memo: dict[tuple[int, str | None], Markup] = {}
    own_layout: list[bool] = []  # whether the site has its own, once known

    @jinja2.pass_context
    def summary(context: jinja2.runtime.Context, item: Any) -> Markup:
        template = env.get_template(SUMMARY_LAYOUT)
        if not own_layout:
            own_layout.append(not _is_default_layout(template))
        if own_layout[0]:
            return Markup(template.render({**context.get_all(), "item": item}))
        key = (id(item), getattr(context.get("section"), "name", None))
        found = memo.get(key)
        if found is None:
            found = memo[key] = Markup(template.render({**context.get_all(), "item": item}))
        return found

    return summary


def _is_default_layout(template: jinja2.Template) -> bool:
    return template.filename is not None and Path(template.filename).resolve().is_relative_to(
        DEFAULTS_DIR / LAYOUTS_DIR)


def render_template(env: jinja2.Environment, name: str, context: dict[str, Any]) -> str:
    """Render one layout, turning Jinja's exceptions into a TemplateError with file and line."""
    try:
        return env.get_template(name).render(context)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"template syntax: {exc.message}",
                            _layout_path(env, exc.filename or exc.name or name), exc.lineno)
    except jinja2.TemplateNotFound as exc:
        raise TemplateError(f"layout '{exc.name}' not found in "
                            f"{', '.join(_search_path(env))}", f"{LAYOUTS_DIR}/{name}")
    except jinja2.UndefinedError as exc:
        path, line = _template_frame(env, exc)
        raise TemplateError(f"{exc.message}; check the variable's name (the README lists "
                            "what each layout receives)", path or f"{LAYOUTS_DIR}/{name}",
                            line)
    except jinja2.TemplateError as exc:
        path, line = _template_frame(env, exc)
        raise TemplateError(f"template error: {exc}", path or f"{LAYOUTS_DIR}/{name}", line)


def _search_path(env: jinja2.Environment) -> list[str]:
    loader = env.loader
    return list(getattr(loader, "searchpath", []))


def _layout_path(env: jinja2.Environment, filename: str) -> str:
    for directory in _search_path(env):
        try:
            return f"{LAYOUTS_DIR}/{Path(filename).resolve().relative_to(Path(directory).resolve()).as_posix()}"
        except ValueError:
            continue
    return filename


def _template_frame(env: jinja2.Environment,
                    exc: BaseException) -> tuple[str | None, int | None]:
    """Find the innermost traceback frame that belongs to a layout, as layouts/NAME."""
    found: tuple[str | None, int | None] = (None, None)
    layout_dirs = [Path(d).resolve() for d in _search_path(env)]
    tb = exc.__traceback__
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if any(Path(filename).resolve().is_relative_to(d) for d in layout_dirs):
            found = (_layout_path(env, filename), tb.tb_lineno)
        tb = tb.tb_next
    return found
