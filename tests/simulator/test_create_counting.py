"""Issue 11 item 7 (simulator side): a create is counted only once its token is accepted; a
create refused with 401 reached nothing and is not a create in the counters."""

from simulator.models import SimIntention


def test_a_create_refused_with_401_is_not_counted(api, control):
    api.token()
    control.post("tokens/revoke")
    refused = api.create_payment(ecr_transaction_id="ORD-401")
    assert refused.status_code == 401
    assert not SimIntention.objects.exists()
    assert control.get("counters")["creates_total"] == 0

    api.token()
    accepted = api.create_payment(ecr_transaction_id="ORD-401")
    assert accepted.status_code == 200, accepted.content
    counters = control.get("counters")
    assert counters["creates_by_ecr_transaction_id"] == {"ORD-401": 1}
    assert counters["creates_total"] == 1
