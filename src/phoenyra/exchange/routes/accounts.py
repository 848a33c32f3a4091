"""Accounts and API keys (admin)."""

from __future__ import annotations

from fastapi import APIRouter

from ..deps import Admin, AnyAccount, Service, json_response
from .models import AccountCreated, AccountIn, AccountOut, KeyRotated, RotateKeyIn
from .orders import ERRORS

router = APIRouter(tags=["accounts"])


@router.post(
    "/api/accounts",
    status_code=201,
    response_model=AccountCreated,
    responses=ERRORS,
    summary="Create an account and its first API key (shown once)",
)
async def create_account(body: AccountIn, admin: Admin, service: Service):
    out = await service.create_account(body.name, body.role, body.battery_id)
    return json_response(out, 201)


@router.get(
    "/api/accounts", response_model=list[AccountOut], responses=ERRORS, summary="All accounts"
)
async def list_accounts(admin: Admin, service: Service):
    await service.sync_accounts()
    return json_response([a.to_wire() for a in service.keyring.accounts.values()])


@router.get(
    "/api/accounts/me",
    response_model=AccountOut,
    responses=ERRORS,
    summary="The account of the key you present",
)
async def me(account: AnyAccount):
    return json_response(account.to_wire())


@router.post(
    "/api/accounts/{account_id}/rotate-key",
    response_model=KeyRotated,
    responses=ERRORS,
    summary="Issue a new key; the old ones keep working for the overlap period (or stop now)",
)
async def rotate_key(
    account_id: int, admin: Admin, service: Service, body: RotateKeyIn | None = None
):
    overlap = body.overlap_s if body is not None else None
    return json_response(await service.rotate_key(account_id, overlap))
