"""The Python half of a mixed-language app: audits the orders the TypeScript component in
../orders-ts enriched."""

from dataclasses import dataclass

from moose_guest import App, Key


@dataclass
class OrderEnriched:
    id: Key[str]
    customer: str
    cents: int


@dataclass
class OrderAudit:
    id: Key[str]
    customer: str
    cents: int
    large: bool


def audit(order: OrderEnriched) -> OrderAudit:
    return OrderAudit(id=order.id, customer=order.customer, cents=order.cents, large=order.cents >= 100_000)


app = App()
enriched = app.stream("OrderEnriched", OrderEnriched)
audits = app.stream_pipeline("OrderAudit", OrderAudit)
app.transform("audit", enriched, audits.stream, audit)
