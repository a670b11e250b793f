"""``kafkaml users ...``: manage accounts from a shell, on the same data dir (or
``DATABASE_URL``) a running ``kafkaml up`` uses. Passwords come from stdin or a prompt, never
from the command line (where ``ps`` and shell history would keep them)."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path


class UsersError(RuntimeError):
    pass


def add_parser(sub: argparse._SubParsersAction) -> None:
    users = sub.add_parser("users", help="create, list, disable and enable users")
    actions = users.add_subparsers(dest="users_command", required=True)

    def action(name: str, help_text: str, *, with_name: bool = True) -> argparse.ArgumentParser:
        parser = actions.add_parser(name, help=help_text)
        if with_name:
            parser.add_argument("name", help="the username")
        parser.add_argument("--data-dir", default=os.environ.get("KAFKAML_DATA_DIR", ".kafkaml"))
        return parser

    create = action("create", "create a user (the password is read from stdin or a prompt)")
    create.add_argument("--staff", action="store_true", help="may manage users")
    create.add_argument("--password-stdin", action="store_true", help="read it from stdin")
    action("list", "list the users", with_name=False)
    action("disable", "disable a user: their sessions and tokens end now")
    action("enable", "enable a disabled user again")
    password = action("set-password", "set a user's password (revokes their API tokens)")
    password.add_argument("--password-stdin", action="store_true", help="read it from stdin")


def _setup(data_dir: str) -> None:
    data = Path(data_dir).resolve()
    os.umask(0o077)
    os.environ["KAFKAML_DATA_DIR"] = str(data)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kafkaml.settings.base")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    # A first command on a fresh data dir makes the database; beside a running platform the
    # plan is empty and nothing is written.
    executor = MigrationExecutor(connection)
    if executor.migration_plan(executor.loader.graph.leaf_nodes()):
        call_command("migrate", interactive=False, verbosity=0)


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Password (again): ") != password:
            raise UsersError("the passwords differ")
    if not password:
        raise UsersError("no password given")
    return password


def _find(name: str):
    from django.contrib.auth import get_user_model

    from .selectors import people

    user = people().filter(username=name).first()
    if user is None:
        raise UsersError(f"no user named {name!r}")
    return get_user_model().objects.get(pk=user.pk)


def _create(args) -> str:
    from .services import user_create

    user = user_create(
        username=args.name, password=_read_password(args.password_stdin), is_staff=args.staff
    )
    return f"created user {user.username}{' (staff)' if user.is_staff else ''}"


def _list(args) -> str:
    from .selectors import people

    rows = [("USERNAME", "STAFF", "ACTIVE", "JOINED", "LAST LOGIN")]
    for user in people():
        rows.append(
            (
                user.username,
                "yes" if user.is_staff else "no",
                "yes" if user.is_active else "no",
                user.date_joined.strftime("%Y-%m-%d %H:%M"),
                user.last_login.strftime("%Y-%m-%d %H:%M") if user.last_login else "never",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    )


def _set_active(args, active: bool) -> str:
    from .services import user_set_active

    user = _find(args.name)
    user_set_active(user=user, active=active)
    return f"{'enabled' if active else 'disabled'} user {user.username}"


def _set_password(args) -> str:
    from .services import user_set_password

    user = _find(args.name)
    user_set_password(user=user, password=_read_password(args.password_stdin))
    return f"set the password of {user.username}; their API tokens are revoked"


def run(args: argparse.Namespace) -> int:
    _setup(args.data_dir)
    from django.core.exceptions import ValidationError

    from kafkaml.errors import ApplicationError

    commands = {
        "create": _create,
        "list": _list,
        "disable": lambda a: _set_active(a, False),
        "enable": lambda a: _set_active(a, True),
        "set-password": _set_password,
    }
    try:
        print(commands[args.users_command](args), flush=True)
        return 0
    except ApplicationError as exc:
        print(f"kafkaml users: error: {exc.message}", file=sys.stderr)
        return 1
    except ValidationError as exc:
        print(f"kafkaml users: error: {' '.join(exc.messages)}", file=sys.stderr)
        return 1
    except UsersError as exc:
        print(f"kafkaml users: error: {exc}", file=sys.stderr)
        return 1
