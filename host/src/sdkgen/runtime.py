import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Dict, List, Literal, Mapping, NotRequired, Optional, Sequence, Tuple, TypedDict, Union, cast

__all__ = ["MooseClient", "MooseError", "IngestError", "IngestProblem", "IngestBatchResult", "Transport"]

# ---------------------------------------------------------------- client runtime


class MooseError(Exception):
    """An error answer of the app, or status 0 when the app could not be reached.

    ``status`` is the HTTP status (400 bad record or parameter, 401 no or bad API key, 404
    unknown endpoint, 413 body or result too large, 503 store unavailable, ...),
    ``message`` the server's own message and ``body`` the parsed answer.
    """

    def __init__(self, status: int, message: str, body: object = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.body = body

    def __str__(self) -> str:
        return f"{self.status}: {self.message}" if self.status else self.message


@dataclass
class IngestProblem:
    """One problem of one rejected record."""

    index: int
    """Index of the record in the sequence given to the ingest method."""
    field: str
    """Path of the field (``items[2].sku``), empty for the record itself."""
    problem: str


@dataclass
class IngestBatchResult:
    """What the server answered for one batch of records."""

    start: int
    """Index of the batch's first record in the sequence given to the ingest method."""
    count: int
    accepted: int = 0
    """Records written durably."""
    rejected: int = 0
    """Records that failed validation (sent to the dead-letter stream)."""
    problems: List[IngestProblem] = field(default_factory=list)


class IngestError(MooseError):
    """An ingest that did not fully succeed.

    Status 400 with ``problems``: some records failed validation, every batch was still
    sent and the valid records were accepted (resend only the rejected ones). Any other
    status: that batch failed and later batches were not sent. ``results`` holds the answer
    of every batch sent before the failure (all of them for a validation failure).
    """

    def __init__(
        self,
        status: int,
        message: str,
        body: object,
        results: List[IngestBatchResult],
        problems: List[IngestProblem],
    ) -> None:
        super().__init__(status, message, body)
        self.results = results
        self.problems = problems


QueryValue = Union[str, int, float, bool]
"""A query parameter value; ``bool`` is sent as ``true``/``false``."""

# How a response value is converted after parsing: "float", "decimal", ("array", conv),
# ("map", conv) or ("model", type name).
_Conv = Union[str, Tuple[str, Any]]


class Transport:
    """HTTP to the app: requests, errors, batching and exact JSON parsing."""

    def __init__(
        self,
        base_url: str,
        api_key: Optional[str] = None,
        *,
        timeout: float = 30.0,
        headers: Optional[Mapping[str, str]] = None,
        shapes: Optional[Mapping[str, Mapping[str, _Conv]]] = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.headers: Dict[str, str] = dict(headers or {})
        if api_key is not None:
            self.headers["Authorization"] = f"Bearer {api_key}"
        self._shapes: Mapping[str, Mapping[str, _Conv]] = shapes or {}

    def request(self, method: str, path: str, body: Optional[bytes] = None, content_type: str = "application/json") -> bytes:
        """Sends one request; the body of a 2xx answer, else raises :class:`MooseError`."""
        headers = {"Accept": "application/json", **self.headers}
        if body is not None:
            headers["Content-Type"] = content_type
        request = urllib.request.Request(self.base_url + path, data=body, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                data: bytes = response.read()
                return data
        except urllib.error.HTTPError as error:
            text = error.read().decode("utf-8", "replace")
            parsed: object = text
            try:
                parsed = json.loads(text)
            except ValueError:
                pass
            message = parsed.get("error") if isinstance(parsed, dict) else None
            if not isinstance(message, str):
                message = text.strip() or f"{error.code} {error.reason}"
            raise MooseError(error.code, message, parsed) from None
        except (urllib.error.URLError, OSError) as error:
            raise MooseError(0, f"could not reach {self.base_url}: {error}") from None

    def query(self, path: str, params: Sequence[Tuple[str, Union[QueryValue, Sequence[QueryValue], None]]], model: Optional[str]) -> List[Any]:
        """Calls a query API; its rows, converted by the shape of model ``model``."""
        pairs: List[Tuple[str, str]] = []
        for name, value in params:
            values: Sequence[object] = value if isinstance(value, (list, tuple)) else [value]
            for item in values:
                if item is None:
                    continue
                pairs.append((name, ("true" if item else "false") if isinstance(item, bool) else str(item)))
        query = urllib.parse.urlencode(pairs)
        data = self.request("GET", f"{path}?{query}" if query else path)
        rows = json.loads(data, parse_float=Decimal) if model is not None else json.loads(data)
        if not isinstance(rows, list):
            raise MooseError(200, f"expected a JSON array of rows from {path}", rows)
        if model is None:
            return rows
        return [self._restore(row, ("model", model)) for row in rows]

    def ingest(self, route: str, records: Sequence[Mapping[str, Any]], max_records: int = 1000, max_bytes: int = 1 << 20) -> List[IngestBatchResult]:
        """Posts ``records`` to ingest route ``route`` (``name`` or ``name/version``) in NDJSON bodies within the limits."""
        max_records, max_bytes = max(1, max_records), max(1, max_bytes)
        path = "/ingest/" + "/".join(urllib.parse.quote(part, safe="") for part in route.split("/"))
        results: List[IngestBatchResult] = []
        lines: List[bytes] = []
        size = 0
        start = 0

        def send() -> None:
            nonlocal lines, size, start
            batch = IngestBatchResult(start=start, count=len(lines))
            body = b"\n".join(lines)
            lines, size = [], 0
            try:
                answer = json.loads(self.request("POST", path, body, "application/x-ndjson"))
                accepted = answer.get("accepted") if isinstance(answer, dict) else None
                batch.accepted = accepted if isinstance(accepted, int) else batch.count
            except MooseError as error:
                rejection = _rejection(error.body) if error.status == 400 else None
                if rejection is None:
                    last = batch.start + batch.count - 1
                    raise IngestError(
                        error.status,
                        f"{error.message} (records {batch.start} to {last}; {len(results)} earlier batch(es) sent)",
                        error.body,
                        results,
                        [p for r in results for p in r.problems],
                    ) from None
                batch.accepted, batch.rejected, problems = rejection
                batch.problems = [IngestProblem(p.index + batch.start, p.field, p.problem) for p in problems]
            results.append(batch)
            start += batch.count

        for record in records:
            line = json.dumps(record, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()
            if lines and (len(lines) >= max_records or size + len(line) + 1 > max_bytes):
                send()
            lines.append(line)
            size += len(line) + 1
        if lines:
            send()
        problems = [p for r in results for p in r.problems]
        if problems:
            rejected = sum(r.rejected for r in results)
            shown = "; ".join(
                f"record {p.index}: " + (f"field `{p.field}`: " if p.field else "") + p.problem for p in problems[:5]
            )
            more = f"; and {len(problems) - 5} more" if len(problems) > 5 else ""
            raise IngestError(
                400,
                f"{rejected} of {len(records)} record(s) failed validation (the others were accepted): {shown}{more}",
                None,
                results,
                problems,
            )
        return results

    def _restore(self, value: object, conv: Optional[_Conv]) -> Any:
        # Numbers were parsed with Decimal for exactness: decimals become strings, every
        # other Decimal (floats, also inside JSON values) a float; so do floats sent as
        # integers.
        if isinstance(value, Decimal):
            return str(value) if conv == "decimal" else float(value)
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value) if conv == "decimal" else float(value) if conv == "float" else value
        if isinstance(value, list):
            inner = conv[1] if isinstance(conv, tuple) and conv[0] == "array" else None
            return [self._restore(item, inner) for item in value]
        if isinstance(value, dict):
            if isinstance(conv, tuple) and conv[0] == "map":
                return {key: self._restore(item, conv[1]) for key, item in value.items()}
            shape = self._shapes.get(conv[1], {}) if isinstance(conv, tuple) and conv[0] == "model" else {}
            return {key: self._restore(item, shape.get(key)) for key, item in value.items()}
        return value


def _rejection(body: object) -> Optional[Tuple[int, int, List[IngestProblem]]]:
    """The accepted and rejected counts and problems of a 400 ingest answer, if it has them."""
    if not isinstance(body, dict) or not isinstance(body.get("problems"), list):
        return None
    problems = [
        IngestProblem(
            index=p["index"] if isinstance(p.get("index"), int) else 0,
            field=p["field"] if isinstance(p.get("field"), str) else "",
            problem=p["problem"] if isinstance(p.get("problem"), str) else "",
        )
        for p in body["problems"]
        if isinstance(p, dict)
    ]
    accepted = body.get("accepted")
    rejected = body.get("rejected")
    return (
        accepted if isinstance(accepted, int) else 0,
        rejected if isinstance(rejected, int) else len(problems),
        problems,
    )
