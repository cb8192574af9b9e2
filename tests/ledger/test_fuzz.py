"""Whatever bytes an export holds, the verifier answers with failing checks, never an
exception."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.ledger.frompb import Conversion
from app.ledger.verify.verifier import ExportData, verify_export
from tests.ledger.conftest import SWEEP_FILES, export_data


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_garbage_never_crashes_the_verifier(
    conversions: dict[str, Conversion], data: st.DataObject
) -> None:
    base = export_data(conversions[SWEEP_FILES[0]])
    lines = base.events[:-1].split(b"\n")
    receipt = next(iter(conversions[SWEEP_FILES[0]].receipts.values())).encode()
    n = data.draw(st.integers(0, len(lines)))
    junk = data.draw(st.lists(st.binary(max_size=60), max_size=3))
    events = b"".join(line + b"\n" for line in [*lines[:n], *junk])
    cps = dict(base.checkpoints)
    if data.draw(st.booleans()):
        name = data.draw(st.sampled_from(sorted(cps)))
        cps[name] = data.draw(st.binary(max_size=200)) + cps[name][-90:]
    key = data.draw(st.sampled_from([base.key, b"", b"\xff\n", base.key[:-5] + b"\n"]))
    receipts = {
        "r": data.draw(
            st.sampled_from([receipt, receipt[:50], receipt.replace(b"index ", b"index 9"), b""])
        )
    }
    report = verify_export(ExportData(events, cps, key, receipts))
    if junk or n < len(lines) or key != base.key:
        assert not report.ok
