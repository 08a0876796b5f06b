"""Invoice and credit-note PDFs over HTTP: the text inside, read back with pypdf."""

from __future__ import annotations

import io

import httpx
import pytest
from pypdf import PdfReader

from paystead.config import Settings

GSTIN = "27AAPFU0939F1ZV"


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        seller_gstin=GSTIN,
        seller_name="Acme Cloud Pvt Ltd",
        seller_address="Pune, Maharashtra",
    )


def text(pdf: bytes) -> str:
    return " ".join((page.extract_text() or "") for page in PdfReader(io.BytesIO(pdf)).pages)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_invoice_and_credit_note_pdfs(client: httpx.AsyncClient) -> None:
    from paystead.billing.tax.gstin import check_character

    buyer_gstin = "27AAPFU0939F2Z" + check_character("27AAPFU0939F2Z")
    cus = await client.post(
        "/v1/customers",
        json={
            "email": "b@example.com",
            "name": "Buyer Traders",
            "tax_id": buyer_gstin,
            "address": {"line1": "2 FC Road", "city": "Pune", "state_code": "MH", "country": "IN"},
        },
    )
    assert cus.status_code == 201, cus.text
    inv = await client.post(
        "/v1/invoices",
        json={
            "customer": cus.json()["id"],
            "currency": "INR",
            "collection_method": "send_invoice",
            "items": [
                {
                    "description": "Annual plan",
                    "amount": 12345600,
                    "tax_rate": "18",
                    "tax_code": "998314",
                }
            ],
        },
    )
    invoice = (await client.post(f"/v1/invoices/{inv.json()['id']}/finalize")).json()
    # ₹1,23,456.00 taxable; CGST = SGST = 9 % = ₹11,111.04 each; total ₹1,45,678.08
    assert [t["amount"] for t in invoice["tax_lines"]] == [1111104, 1111104]
    for template in ("saas", "retail", "services"):
        response = await client.get(
            f"/v1/invoices/{invoice['id']}/pdf", params={"template": template}
        )
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/pdf"
        content = text(response.content)
        assert "INV/26-27/00001" in content, template
        assert GSTIN in content and buyer_gstin in content
        assert "11,111.04" in content  # CGST and SGST
        assert "1,45,678.08" in content  # Indian digit grouping
    bad = await client.get(f"/v1/invoices/{invoice['id']}/pdf", params={"template": "nope"})
    assert bad.status_code == 422 and bad.json()["param"] == "template"

    note = await client.post(
        "/v1/credit_notes",
        json={
            "invoice": invoice["id"],
            "outcome": "reduce_amount_due",
            "amount": 118000,
            "reason": "discount",
        },
    )
    assert note.status_code == 201, note.text
    pdf = await client.get(f"/v1/credit_notes/{note.json()['id']}/pdf")
    assert pdf.status_code == 200
    content = text(pdf.content)
    assert "CN/26-27/00001" in content and "INV/26-27/00001" in content
    assert "1,000.00" in content and "90.00" in content  # taxable and CGST 9 % reversed
