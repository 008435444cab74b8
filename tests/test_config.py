"""Configuration loading and target_metadata capture, on real files in tmp_path (no mocks)."""

from __future__ import annotations

import logging
import os
import sys
import textwrap
import uuid
from pathlib import Path

import alembic
import pytest
from sqlalchemy import MetaData

from atlembic.config import load_settings
from atlembic.environment import capture_environment, load_target_metadata
from atlembic.errors import AtlembicError, mask_url

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "sample_project"
TEMPLATES = Path(alembic.__file__).parent / "templates"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Discovery looks at $ATLEMBIC_CONFIG and ./alembic.ini; start every test from a neutral place.
    monkeypatch.delenv("ATLEMBIC_CONFIG", raising=False)
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)


def write_ini(
    path: Path, alembic_section: str = "", atlembic_section: str | None = None, extra: str = ""
) -> Path:
    text = "[alembic]\n" + textwrap.dedent(alembic_section)
    if atlembic_section is not None:
        text += "\n[atlembic]\n" + textwrap.dedent(atlembic_section)
    text += textwrap.dedent(extra)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def unique_name(prefix: str) -> str:
    # Each project gets its own module name: Python reuses already-imported modules by name.
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def write_models(directory: Path, module: str, tables: tuple[str, ...] = ("widget",)) -> None:
    lines = ["from sqlalchemy import Column, Integer, MetaData, String, Table", "", "metadata = MetaData()"]
    for name in tables:
        lines.append(
            f"{name} = Table({name!r}, metadata, Column('id', Integer, primary_key=True), "
            "Column('label', String(20)))"
        )
    (directory / f"{module}.py").write_text("\n".join(lines) + "\n")


def template_env_py(template: str, target_metadata_code: str) -> str:
    """Alembic's installed template env.py with the target_metadata assignment filled in."""
    source = (TEMPLATES / template / "env.py").read_text()
    placeholder = "target_metadata = {}" if template == "multidb" else "target_metadata = None"
    assert placeholder in source
    return source.replace(placeholder, target_metadata_code, 1)


def make_project(
    root: Path,
    env_py: str,
    *,
    url: str = "sqlite:///%(here)s/app.db",
    alembic_extra: str = "",
    atlembic_section: str | None = None,
    with_logging: bool = True,
    extra: str = "",
) -> Path:
    """A project laid out as `alembic init` leaves it; returns the alembic.ini path."""
    (root / "alembic" / "versions").mkdir(parents=True)
    (root / "alembic" / "env.py").write_text(env_py)
    logging_sections = (TEMPLATES / "generic" / "alembic.ini.mako").read_text().split("[loggers]", 1)[1]
    body = (
        "script_location = %(here)s/alembic\n"
        "prepend_sys_path = .\n"
        "path_separator = os\n"
        f"sqlalchemy.url = {url}\n" + textwrap.dedent(alembic_extra)
    )
    ini = write_ini(
        root / "alembic.ini",
        body,
        atlembic_section,
        extra=textwrap.dedent(extra) + ("\n[loggers]" + logging_sections if with_logging else ""),
    )
    return ini


# ----------------------------------------------------------------------------------------------------
# Discovery


def test_explicit_config_wins_over_env_var_and_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    explicit = write_ini(tmp_path / "a" / "alembic.ini", "sqlalchemy.url = sqlite:///explicit.db\n")
    from_env = write_ini(tmp_path / "b" / "alembic.ini", "sqlalchemy.url = sqlite:///env.db\n")
    write_ini(Path.cwd() / "alembic.ini", "sqlalchemy.url = sqlite:///cwd.db\n")
    monkeypatch.setenv("ATLEMBIC_CONFIG", str(from_env))

    settings = load_settings(explicit)

    assert settings.config_file == explicit
    assert settings.here == explicit.parent
    assert settings.url == "sqlite:///explicit.db"


def test_env_var_wins_over_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from_env = write_ini(tmp_path / "b" / "custom.ini", "sqlalchemy.url = sqlite:///env.db\n")
    write_ini(Path.cwd() / "alembic.ini", "sqlalchemy.url = sqlite:///cwd.db\n")
    monkeypatch.setenv("ATLEMBIC_CONFIG", str(from_env))

    settings = load_settings()

    assert settings.config_file == from_env
    assert settings.url == "sqlite:///env.db"


def test_cwd_alembic_ini_is_the_default() -> None:
    ini = write_ini(Path.cwd() / "alembic.ini", "sqlalchemy.url = sqlite:///cwd.db\n")

    settings = load_settings()

    assert settings.config_file == ini
    assert settings.url == "sqlite:///cwd.db"


def test_no_config_file_means_defaults_from_cwd() -> None:
    settings = load_settings()

    assert settings.config_file is None
    assert settings.here == Path.cwd()
    assert settings.url is None
    assert settings.dev_url is None
    assert settings.migrations_dir == Path.cwd() / "migrations"
    assert settings.script_location is None
    assert settings.metadata_ref is None
    assert settings.options == {}
    assert settings.dialect == "sqlite"


def test_explicit_missing_config_is_an_error_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "alembic.ini"
    with pytest.raises(AtlembicError, match="nope/alembic.ini"):
        load_settings(missing)


def test_env_var_naming_missing_file_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATLEMBIC_CONFIG", str(tmp_path / "gone.ini"))
    with pytest.raises(AtlembicError, match=r"ATLEMBIC_CONFIG.*gone\.ini"):
        load_settings()


def test_named_section(tmp_path: Path) -> None:
    ini = tmp_path / "alembic.ini"
    ini.write_text(
        "[alembic]\nsqlalchemy.url = sqlite:///main.db\n\n[other]\nsqlalchemy.url = sqlite:///other.db\n"
    )

    assert load_settings(ini, ini_section="other").url == "sqlite:///other.db"
    with pytest.raises(AtlembicError, match=r"\[missing\]"):
        load_settings(ini, ini_section="missing")


# ----------------------------------------------------------------------------------------------------
# Values, interpolation, overrides


def test_here_interpolation_and_atlembic_section(tmp_path: Path) -> None:
    ini = write_ini(
        tmp_path / "proj" / "alembic.ini",
        "script_location = %(here)s/alembic\nsqlalchemy.url = sqlite:///%(here)s/app.db\n",
        "migrations_dir = %(here)s/db/migrations\ndev_url = sqlite://\nmetadata = app.models:Base.metadata\n"
        "lint_error = destructive\n",
    )
    proj = ini.parent

    settings = load_settings(ini)

    assert settings.url == f"sqlite:///{proj.as_posix()}/app.db"
    assert settings.script_location == proj / "alembic"
    assert settings.migrations_dir == proj / "db" / "migrations"
    assert settings.dev_url == "sqlite://"
    assert settings.metadata_ref == "app.models:Base.metadata"
    assert settings.options == {
        "migrations_dir": f"{proj.as_posix()}/db/migrations",
        "dev_url": "sqlite://",
        "metadata": "app.models:Base.metadata",
        "lint_error": "destructive",
    }


def test_empty_and_commented_values_mean_unset(tmp_path: Path) -> None:
    ini = write_ini(
        tmp_path / "alembic.ini",
        "sqlalchemy.url =\n",
        "dev_url =\n"
        "metadata =    ; optional package.module:attr\n"
        "migrations_dir = %(here)s/mig   ; comment\n",
    )

    settings = load_settings(ini)

    assert settings.url is None
    assert settings.dev_url is None
    assert settings.metadata_ref is None
    assert settings.migrations_dir == tmp_path / "mig"


def test_relative_paths(tmp_path: Path) -> None:
    # script_location is relative to the CWD (Alembic's rule); our migrations_dir to the ini's directory.
    ini = write_ini(
        tmp_path / "proj" / "alembic.ini", "script_location = scripts\n", "migrations_dir = mig\n"
    )

    settings = load_settings(ini)

    assert settings.script_location == Path.cwd() / "scripts"
    assert settings.migrations_dir == tmp_path / "proj" / "mig"


def test_cli_overrides_win(tmp_path: Path) -> None:
    ini = write_ini(
        tmp_path / "alembic.ini",
        "sqlalchemy.url = sqlite:///file.db\n",
        "dev_url = sqlite://\nmigrations_dir = %(here)s/from_ini\n",
    )

    settings = load_settings(
        ini,
        url="postgresql+psycopg://app@db/app",
        dev_url="postgresql://dev@localhost/dev",
        directory="rel/dir",
        x_args=["tenant=acme", "flag"],
    )

    assert settings.url == "postgresql+psycopg://app@db/app"
    assert settings.dev_url == "postgresql://dev@localhost/dev"
    assert settings.migrations_dir == Path.cwd() / "rel" / "dir"
    assert settings.x_args == ["tenant=acme", "flag"]


def test_percent_escape_in_url(tmp_path: Path) -> None:
    ini = write_ini(tmp_path / "alembic.ini", "sqlalchemy.url = postgresql://u:p%%40ss@h/db\n")
    assert load_settings(ini).url == "postgresql://u:p%40ss@h/db"


@pytest.mark.parametrize(
    ("url", "dev_url", "expected"),
    [
        ("postgresql+psycopg://app@db/app", None, "postgresql"),
        ("postgresql://app@db/app", "sqlite://", "postgresql"),
        ("mysql+pymysql://app@db/app", None, "mysql"),
        ("mariadb+pymysql://app@db/app", None, "mariadb"),
        ("sqlite:///x.db", None, "sqlite"),
        (None, "postgresql://dev@localhost/dev", "postgresql"),
        (None, None, "sqlite"),
        # Alembic's placeholder is "no URL configured".
        ("driver://user:pass@localhost/dbname", None, "sqlite"),
        ("driver://user:pass@localhost/dbname", "mysql://dev@h/d", "mysql"),
    ],
)
def test_dialect(url: str | None, dev_url: str | None, expected: str) -> None:
    assert load_settings(url=url, dev_url=dev_url).dialect == expected


def test_unknown_dialect_is_a_clear_error() -> None:
    settings = load_settings(url="postgress://u:hunter2@h/db")
    with pytest.raises(AtlembicError, match="postgress") as info:
        _ = settings.dialect
    assert "hunter2" not in str(info.value)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://app:s3cr3t-pw@db.example.com:5432/app",
        "mysql+pymysql://root:s3cr3t-pw@localhost/app?charset=utf8mb4",
        "postgresql://app@db/app?password=s3cr3t-pw&sslmode=require",
        "weird:/not a url at all user:s3cr3t-pw@host",
    ],
)
def test_redacted_url_never_shows_password(url: str) -> None:
    settings = load_settings(url=url)
    redacted = settings.redacted_url()
    assert redacted is not None
    assert "s3cr3t-pw" not in redacted
    assert "s3cr3t-pw" not in mask_url(url)


def test_redacted_url_keeps_the_rest() -> None:
    settings = load_settings(url="postgresql+psycopg://app:pw@db:5432/app")
    assert settings.redacted_url() == "postgresql+psycopg://app:***@db:5432/app"
    assert load_settings().redacted_url() is None


# ----------------------------------------------------------------------------------------------------
# target_metadata from env.py


def test_sample_project_metadata() -> None:
    settings = load_settings(SAMPLE / "alembic.ini")
    assert settings.migrations_dir == SAMPLE / "migrations"

    metadata = load_target_metadata(settings)

    assert {"user_account", "address"} <= set(metadata.tables)
    address = metadata.tables["address"]
    assert [fk.target_fullname for fk in address.foreign_keys] == ["user_account.id"]
    assert metadata.tables["user_account"].c.name.type.length == 30
    assert not metadata.tables["user_account"].c.name.nullable
    assert metadata.tables["user_account"].c.fullname.nullable


def test_sample_project_loads_twice_from_its_own_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(SAMPLE)
    first = load_target_metadata(load_settings())
    second = load_target_metadata(load_settings())
    assert first is second  # the models module is imported once and reused
    assert {"user_account", "address"} <= set(second.tables)


def test_capture_leaves_process_state_alone() -> None:
    ours = logging.getLogger("atlembic.test.capture")
    root = logging.getLogger()
    root_handlers, root_level = list(root.handlers), root.level
    cwd, path_before = os.getcwd(), list(sys.path)

    load_target_metadata(load_settings(SAMPLE / "alembic.ini"))

    # env.py's fileConfig(alembic.ini) would otherwise disable every existing logger.
    assert not ours.disabled
    assert root.handlers == root_handlers and root.level == root_level
    assert os.getcwd() == cwd
    # sys.path may only have gained entries (what imports the models), and keeps its order otherwise.
    assert [p for p in sys.path if p in path_before] == path_before
    assert all(os.path.isabs(p) for p in sys.path if p not in path_before)


@pytest.mark.parametrize(
    "url", ["driver://user:pass@localhost/dbname", "postgresql+psycopg://nobody@nonexistent-host/db"]
)
def test_generic_template_never_connects(tmp_path: Path, url: str) -> None:
    module = unique_name("generic_models")
    root = tmp_path / "proj"
    root.mkdir()
    write_models(root, module, ("gadget",))
    ini = make_project(
        root, template_env_py("generic", f"from {module} import metadata as target_metadata"), url=url
    )

    assert set(load_target_metadata(load_settings(ini)).tables) == {"gadget"}


@pytest.mark.parametrize(
    "url",
    [
        "driver://user:pass@localhost/dbname",
        "postgresql+asyncpg://nobody:pw@nonexistent-host/db",
        "postgresql+psycopg://nobody@nonexistent-host/db",
    ],
)
def test_async_template(tmp_path: Path, url: str) -> None:
    # The template imports sqlalchemy.ext.asyncio, which needs greenlet: the test extra installs it.
    module = unique_name("async_models")
    root = tmp_path / "proj"
    root.mkdir()
    write_models(root, module, ("thing", "other_thing"))
    env_py = template_env_py("async", f"from {module} import metadata\ntarget_metadata = metadata")
    assert "asyncio.run(run_async_migrations())" in env_py
    ini = make_project(root, env_py, url=url)

    metadata = load_target_metadata(load_settings(ini))

    assert set(metadata.tables) == {"thing", "other_thing"}


def test_url_override_reaches_env_py(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    root.mkdir()
    env_py = textwrap.dedent(
        """
        from alembic import context
        from sqlalchemy import Column, Integer, MetaData, Table

        md = MetaData()
        url = context.config.get_main_option("sqlalchemy.url")
        Table("seen_" + url.split(":")[0].replace("+", "_"), md, Column("id", Integer, primary_key=True))
        context.configure(url=url, target_metadata=md)
        with context.begin_transaction():
            context.run_migrations()
        """
    )
    ini = make_project(root, env_py, url="sqlite:///%(here)s/app.db")

    metadata = load_target_metadata(load_settings(ini, url="postgresql+psycopg://u:p%w@h/db"))

    assert set(metadata.tables) == {"seen_postgresql_psycopg"}


def test_x_args_visible_to_env_py(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    root.mkdir()
    env_py = textwrap.dedent(
        """
        from alembic import context
        from sqlalchemy import Column, Integer, MetaData, Table

        args = context.get_x_argument(as_dictionary=True)
        md = MetaData()
        Table("t_" + args["tenant"], md, Column("id", Integer, primary_key=True))
        if "flag" in args and context.config.cmd_opts.x == ["tenant=acme", "flag"]:
            Table("flagged", md, Column("id", Integer, primary_key=True))
        context.configure(url=context.config.get_main_option("sqlalchemy.url"), target_metadata=md)
        with context.begin_transaction():
            context.run_migrations()
        """
    )
    ini = make_project(root, env_py)

    metadata = load_target_metadata(load_settings(ini, x_args=["tenant=acme", "flag"]))

    assert set(metadata.tables) == {"t_acme", "flagged"}


def test_env_py_import_error_is_one_line_naming_env_py(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    root.mkdir()
    ini = make_project(
        root, template_env_py("generic", "from no_such_models_pkg import Base\ntarget_metadata = None")
    )

    with pytest.raises(AtlembicError) as info:
        load_target_metadata(load_settings(ini))

    message = str(info.value)
    env_py = root / "alembic" / "env.py"
    assert message == f"{env_py}: ModuleNotFoundError: No module named 'no_such_models_pkg'"
    assert "\n" not in message
    assert isinstance(info.value.__cause__, ModuleNotFoundError)


def test_env_py_multiline_exception_message_is_flattened(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    root.mkdir()
    ini = make_project(root, "raise RuntimeError('first line\\n   second line')\n")

    with pytest.raises(AtlembicError) as info:
        load_target_metadata(load_settings(ini))

    assert str(info.value).endswith("env.py: RuntimeError: first line second line")
    assert isinstance(info.value.__cause__, RuntimeError)


def test_env_py_without_target_metadata(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    root.mkdir()
    ini = make_project(root, template_env_py("generic", "target_metadata = None"))

    with pytest.raises(AtlembicError) as info:
        load_target_metadata(load_settings(ini))

    env_py = root / "alembic" / "env.py"
    assert str(info.value) == f"env.py: {env_py} does not provide target_metadata to context.configure()"


def test_env_py_that_never_calls_configure(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    root.mkdir()
    ini = make_project(root, "from alembic import context\nconfig = context.config\n")

    with pytest.raises(AtlembicError, match="does not provide target_metadata to context.configure"):
        load_target_metadata(load_settings(ini))


def test_sequence_of_metadata_is_merged(tmp_path: Path) -> None:
    a, b = unique_name("models_a"), unique_name("models_b")
    root = tmp_path / "proj"
    root.mkdir()
    write_models(root, a, ("alpha",))
    write_models(root, b, ("beta",))
    code = f"import {a}, {b}\ntarget_metadata = [{a}.metadata, {b}.metadata]"
    ini = make_project(root, template_env_py("generic", code))

    capture = capture_environment(load_settings(ini))

    assert set(capture.metadata.tables) == {"alpha", "beta"}
    assert len(capture.configure_calls) == 1
    assert capture.configure_calls[0]["literal_binds"] is True


def test_conflicting_tables_in_metadata_sequence(tmp_path: Path) -> None:
    a, b = unique_name("models_a"), unique_name("models_b")
    root = tmp_path / "proj"
    root.mkdir()
    write_models(root, a, ("same",))
    write_models(root, b, ("same",))
    ini = make_project(
        root, template_env_py("generic", f"import {a}, {b}\ntarget_metadata = [{a}.metadata, {b}.metadata]")
    )
    # Defined identically in both: one table.
    assert list(load_target_metadata(load_settings(ini)).tables) == ["same"]

    c = unique_name("models_c")  # a new module: the process keeps the ones it imported
    write_models(root, c, ("same",))
    (root / f"{c}.py").write_text((root / f"{c}.py").read_text().replace("String(20)", "String(30)"))
    (root / "alembic" / "env.py").write_text(
        template_env_py("generic", f"import {a}, {c}\ntarget_metadata = [{a}.metadata, {c}.metadata]"))
    with pytest.raises(AtlembicError, match="'same' is defined in more than one MetaData, differently"):
        load_target_metadata(load_settings(ini))


def test_multidb_template_writes_nothing_in_cwd(tmp_path: Path) -> None:
    a, b = unique_name("models_a"), unique_name("models_b")
    root = tmp_path / "proj"
    root.mkdir()
    write_models(root, a, ("in_one",))
    write_models(root, b, ("in_two",))
    code = f"import {a}, {b}\ntarget_metadata = {{'engine1': {a}.metadata, 'engine2': {b}.metadata}}"
    ini = make_project(
        root,
        template_env_py("multidb", code),
        alembic_extra="databases = engine1, engine2\n",
        extra="\n[engine1]\nsqlalchemy.url = driver://user:pass@localhost/dbname1\n"
        "\n[engine2]\nsqlalchemy.url = postgresql://nobody@nonexistent-host/db2\n",
    )
    (Path.cwd() / "engine1.sql").write_text("precious")

    capture = capture_environment(load_settings(ini))

    assert set(capture.metadata.tables) == {"in_one", "in_two"}
    assert len(capture.configure_calls) == 2
    assert (Path.cwd() / "engine1.sql").read_text() == "precious"
    assert not (Path.cwd() / "engine2.sql").exists()


def test_missing_env_py(tmp_path: Path) -> None:
    ini = write_ini(tmp_path / "alembic.ini", "script_location = %(here)s/nowhere\n")
    with pytest.raises(AtlembicError, match="nowhere/env.py"):
        load_target_metadata(load_settings(ini))


def test_neither_script_location_nor_metadata(tmp_path: Path) -> None:
    ini = write_ini(tmp_path / "alembic.ini", "sqlalchemy.url = sqlite://\n")
    with pytest.raises(AtlembicError, match=r"metadata.*script_location"):
        load_target_metadata(load_settings(ini))


# ----------------------------------------------------------------------------------------------------
# target_metadata from [atlembic] metadata


def test_metadata_ref_skips_env_py(tmp_path: Path) -> None:
    module = unique_name("ref_models")
    root = tmp_path / "proj"
    root.mkdir()
    write_models(root, module, ("direct",))
    # env.py would fail: proves it is not run.
    ini = make_project(
        root,
        "raise RuntimeError('env.py must not run')\n",
        atlembic_section=f"metadata = {module}:metadata\n",
    )

    settings = load_settings(ini)
    assert settings.metadata_ref == f"{module}:metadata"
    metadata = load_target_metadata(settings)

    assert isinstance(metadata, MetaData)
    assert set(metadata.tables) == {"direct"}
    assert load_target_metadata(load_settings(ini)) is metadata


def test_metadata_ref_dotted_attribute_and_declarative_base(tmp_path: Path) -> None:
    # The sample project's models, found through an absolute prepend_sys_path entry.
    ini = write_ini(
        tmp_path / "alembic.ini",
        f"prepend_sys_path = {SAMPLE}\npath_separator = os\n",
        "metadata = models:Base.metadata\n",
    )
    assert {"user_account", "address"} <= set(load_target_metadata(load_settings(ini)).tables)

    ini = write_ini(
        tmp_path / "alembic.ini",
        f"prepend_sys_path = {SAMPLE}\npath_separator = os\n",
        "metadata = models:Base\n",
    )
    assert {"user_account", "address"} <= set(load_target_metadata(load_settings(ini)).tables)


@pytest.mark.parametrize(
    ("ref", "match"),
    [
        ("no_colon_here", "expected 'package.module:attribute'"),
        ("no_such_module_xyz:metadata", "ModuleNotFoundError"),
        ("models:NoSuchAttr", "AttributeError"),
        ("models:User.__tablename__", "expected a MetaData"),
    ],
)
def test_metadata_ref_errors(tmp_path: Path, ref: str, match: str) -> None:
    ini = write_ini(
        tmp_path / "alembic.ini", f"prepend_sys_path = {SAMPLE}\npath_separator = os\n", f"metadata = {ref}\n"
    )
    with pytest.raises(AtlembicError, match=match) as info:
        load_target_metadata(load_settings(ini))
    assert "\n" not in str(info.value)


def test_pyproject_template_layout(tmp_path: Path) -> None:
    # `alembic init -t pyproject` keeps script_location/prepend_sys_path in ./pyproject.toml.
    module = unique_name("toml_models")
    root = Path.cwd()
    write_models(root, module, ("from_toml",))
    (root / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[tool.alembic]\n'
        'script_location = "%(here)s/envdir"\nprepend_sys_path = ["."]\n'
    )
    (root / "envdir").mkdir()
    (root / "envdir" / "env.py").write_text(
        template_env_py("generic", f"from {module} import metadata as target_metadata")
    )
    write_ini(root / "alembic.ini", "sqlalchemy.url = sqlite:///%(here)s/app.db\n")

    settings = load_settings()

    assert settings.script_location == root / "envdir"
    assert set(load_target_metadata(settings).tables) == {"from_toml"}
