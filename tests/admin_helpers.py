"""What the admin tests share: a served app with one administrator, signed-in clients, hostile files."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from helpers import LiveServer

ADMIN, PASSWORD = "editor", "correct horse battery"


def add_admin(settings, name: str = ADMIN, password: str = PASSWORD) -> None:
    from assistant.admin.services import AdminServices

    services = AdminServices.open(settings)
    if not services.accounts.exists(name):
        services.accounts.add(name, password)


def new_token(settings, name: str = ADMIN) -> str:
    from assistant.admin.services import AdminServices

    return AdminServices.open(settings).accounts.new_token(name)[1]


@contextmanager
def signed_in(server: LiveServer, name: str = ADMIN, password: str = PASSWORD) -> Iterator[httpx.Client]:
    """A client with the session cookie and its CSRF header, as the admin page would send them."""
    with httpx.Client(base_url=server.url, timeout=120) as client:
        response = client.post("/api/admin/login", json={"name": name, "password": password})
        assert response.status_code == 200, response.text
        client.headers["X-CSRF-Token"] = response.json()["csrf_token"]
        yield client


def docx_bytes(text: str = "关于测试的答复\n一、测试内容。") -> bytes:
    import docx

    document = docx.Document()
    for line in text.split("\n"):
        document.add_paragraph(line)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def with_member(data: bytes, name: str, content: bytes) -> bytes:
    """A copy of a zip (a .docx) with one more member."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            target.writestr(item, source.read(item))
        target.writestr(name, content)
    return out.getvalue()


def textless_pdf() -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.rect(20, 20, 100, 60)  # a drawing, no text layer: what a scan looks like to a loader
    return bytes(pdf.output())
