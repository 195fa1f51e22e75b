#!/usr/bin/env python
"""A minimal POS client of the ECR Portal API: charge, wait for the outcome, print the ticket.

Usage:

    python examples/pos_client.py --base-url http://127.0.0.1:8000 --key 'ecr_1a2b3c4d.XXXX' \\
        --terminal 0b7a6a4e-7f0c-4a8e-9a57-3f1f4c2b9d10 --amount 1500.00 [--reference PEDIDO-1]

Refund (devolución) of a payment, or annul it (anulación):

    python examples/pos_client.py --key ... --terminal <id> --refund <payment id> --amount 500.00
    python examples/pos_client.py --key ... --reverse <payment id>

Above the store's threshold a refund or reversal answers `202` and waits, unsent, for a second
person to approve it in the portal (Aprobaciones): the client says so and keeps waiting; rejected
or expired, it ends `cancelled`. Cash-back on a debit card: `--change-amount 2000.00`; benefit
cards on a QR payment: `--method qr --qr-benefit`.

`--key` is a POS key (create one in the portal's admin or with `manage.py create_pos_key`);
`--terminal` is a terminal's `id` as listed by `GET /api/v1/terminals` (run with `--list` to see
them). Against `make run`, pay on the simulator's terminal screen or turn its autopilot on.

Only needs httpx. Exit code 0 when approved, 1 otherwise. The payment is sent with one
Idempotency-Key, so a network error on the POST is retried safely: the portal answers the first
result instead of charging twice.
"""

import argparse
import sys
import time
import uuid

import httpx


def main() -> int:
    try:
        return charge()
    except httpx.TransportError as exc:
        # The server is not there (not started, another port): say so, without a traceback.
        print(
            f"No se pudo conectar con el portal ({exc.__class__.__name__}: {exc}). ¿Está "
            "corriendo `make run`? Con otro puerto use --base-url http://127.0.0.1:<puerto>.",
            file=sys.stderr,
        )
        return 2


def charge() -> int:
    parser = argparse.ArgumentParser(description="Cobra con una terminal del ECR Portal.")
    parser.add_argument("--base-url", default="http://127.0.0.1:8000")
    parser.add_argument("--key", required=True, help="clave de API del POS")
    parser.add_argument("--terminal", help="id (UUID) de la terminal")
    parser.add_argument("--amount", default="1500.00", help='importe, p. ej. "1500.00"')
    parser.add_argument("--installments", type=int, default=1)
    parser.add_argument("--reference", default="", help="referencia del pedido")
    parser.add_argument("--method", choices=["card", "qr"], default="card")
    parser.add_argument("--change-amount", help='extracción (cash-back, débito), p. ej. "2000.00"')
    parser.add_argument("--qr-benefit", action="store_true", help="permitir beneficios en QR")
    parser.add_argument("--refund", metavar="PAYMENT_ID", help="devolver ese cobro (--amount)")
    parser.add_argument("--reverse", metavar="PAYMENT_ID", help="anular ese cobro")
    parser.add_argument("--list", action="store_true", help="listar las terminales y salir")
    parser.add_argument("--max-wait", type=int, default=300, help="segundos de espera máxima")
    args = parser.parse_args()

    api = httpx.Client(
        base_url=args.base_url.rstrip("/") + "/api/v1",
        headers={"Authorization": f"Api-Key {args.key}"},
        timeout=httpx.Timeout(45.0, connect=5.0),  # above the 30 s long poll
    )

    if args.list or not (args.terminal or args.reverse):
        response = api.get("/terminals")
        if response.status_code != 200:
            return problem(response)
        for terminal in response.json():
            print(
                f"{terminal['id']}  {terminal['terminal_id']}  {terminal['label']:<20} "
                f"{terminal['state']}"
            )
        return 0

    path, body, what = operation(args)
    key = str(uuid.uuid4())  # one key per charge; reused only to retry this same charge
    for attempt in range(5):
        try:
            response = api.post(path, json=body, headers={"Idempotency-Key": key})
        except httpx.TransportError as exc:
            print(f"red: {exc}; reintento con la misma Idempotency-Key", file=sys.stderr)
            time.sleep(1 + attempt)
            continue
        if response.status_code == 409 and response.json().get("code") == (
            "idempotency_request_in_progress"
        ):
            time.sleep(int(response.headers.get("Retry-After", "1")))
            continue
        break
    else:
        print(f"no se pudo crear: {what}", file=sys.stderr)
        return 1
    if response.status_code not in (201, 202):
        return problem(response)
    intent = response.json()
    if intent["state"] == "approval_pending":
        # 202: above the store's threshold; nothing reached the terminal yet.
        print(
            f"{what.capitalize()} {intent['id']} espera la aprobación de otra persona en el "
            f"portal (Aprobaciones) hasta {intent['approval_expires_at']}. Esperando..."
        )
    else:
        print(f"{what.capitalize()} {intent['id']} enviada: {intent['state']}. Esperando...")

    deadline = time.monotonic() + args.max_wait
    while not intent["is_final"] and time.monotonic() < deadline:
        try:
            response = api.get(f"/intents/{intent['id']}", params={"wait": 30})
        except httpx.TransportError as exc:
            print(f"red: {exc}; sigo esperando", file=sys.stderr)
            time.sleep(1)
            continue
        if response.status_code != 200:
            return problem(response)
        previous, intent = intent["state"], response.json()
        if previous == "approval_pending" and intent["state"] != previous:
            if intent["state"] == "cancelled":
                print(f"No se aprobó: {intent['response_message']}")
            else:
                print("Aprobada por otra persona: enviada a la terminal. Esperando...")

    print(f"Estado: {intent['state']} ({intent['provider_status']})")
    if intent["state"] != "approved":
        if intent["state"] == "in_doubt":
            print("En duda: NO cobrar de nuevo; el portal la está buscando en Prisma.")
        return 1
    card = intent["card"] or {}
    print(
        f"Aprobado: {card.get('brand', '')} ****{card.get('last_four', '')} "
        f"autorización {intent['authorization_code']} cupón {intent['ticket_number']} "
        f"lote {intent['batch_number']}"
    )
    print()
    print(intent["receipts"]["client"] or "(sin ticket)")
    return 0


def operation(args) -> tuple[str, dict, str]:
    """The POST of what was asked: (path, body, name)."""
    if args.reverse:
        return f"/payments/{args.reverse}/reversal", {"reference": args.reference}, "anulación"
    if args.refund:
        body = {
            "terminal": args.terminal,
            "amount": args.amount,
            "original": args.refund,
            "reference": args.reference,
        }
        return "/refunds", body, "devolución"
    body = {
        "terminal": args.terminal,
        "amount": args.amount,
        "installments": args.installments,
        "reference": args.reference,
        "method": args.method,
    }
    if args.change_amount:
        body["change_amount"] = args.change_amount
    if args.qr_benefit:
        body["qr_benefit_code"] = True
    return "/payments", body, "cobro"


def problem(response: httpx.Response) -> int:
    try:
        data = response.json()
        print(f"{response.status_code} {data.get('code')}: {data.get('detail')}", file=sys.stderr)
        for error in data.get("errors", []):
            print(f"  {error['field']}: {error['detail']}", file=sys.stderr)
    except ValueError:
        print(f"{response.status_code}: {response.text[:500]}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
