"""Where a PostgreSQL store is, in words safe to show: ``host:port/db``, never the password."""

from __future__ import annotations

import re
from dataclasses import dataclass

import psycopg
from psycopg.conninfo import conninfo_to_dict

from setpoint.errors import StoreError


@dataclass(frozen=True, slots=True)
class Target:
    """The parts of a connection string that are safe to show (never the password)."""

    host: str
    port: str
    dbname: str
    user: str
    password: str | None

    @staticmethod
    def parse(url: str) -> Target:
        try:
            parts = conninfo_to_dict(url)
        except psycopg.ProgrammingError as exc:
            raise StoreError(f"not a PostgreSQL connection URL: {_hide_url_password(url)!r} ({exc})") from None
        user = str(parts.get("user") or "")
        return Target(
            host=str(parts.get("host") or parts.get("hostaddr") or "localhost"),
            port=str(parts.get("port") or "5432"),
            dbname=str(parts.get("dbname") or user or "postgres"),
            user=user,
            password=None if parts.get("password") is None else str(parts["password"]),
        )

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}/{self.dbname}"

    def scrub(self, text: str) -> str:
        """``text`` with the password (if any) masked: driver messages are shown to users."""
        if self.password:
            text = text.replace(self.password, "***")
        return text


def _hide_url_password(url: str) -> str:
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)
