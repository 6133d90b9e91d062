"""Organiser accounts and API tokens.

The first organiser is made on the command line (`matchmaking organiser create EMAIL`);
after that, any authenticated organiser may create more accounts through the API.
"""

from __future__ import annotations

from fastapi import APIRouter, status

from api.deps import CurrentOrganiser, DbSession, committed
from api.problems import problem_responses
from api.schemas.common import RowId
from api.schemas.organisers import (
    OrganiserCreate,
    OrganiserCreated,
    OrganiserOut,
    TokenCreate,
    TokenIssued,
    TokenOut,
)
from matchmaking.organising import organisers as service

router = APIRouter(
    prefix="/api/v1/organisers", tags=["organisers"], responses=problem_responses(401)
)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=OrganiserCreated,
    responses=problem_responses(409, 422),
    summary="Create an organiser account",
    description="**Who:** any authenticated organiser. Answers the new account with its first "
    "API token, shown only this once. An e-mail that has an account already → 409.",
)
def create_organiser(
    body: OrganiserCreate, db: DbSession, _caller: CurrentOrganiser
) -> OrganiserCreated:
    organiser, token, secret = service.create_organiser(db, str(body.email), body.name)
    return committed(
        db,
        OrganiserCreated(
            organiser=OrganiserOut.model_validate(organiser),
            token=TokenIssued.model_validate(
                {**TokenOut.model_validate(token).model_dump(), "token": secret}
            ),
        ),
    )


@router.get(
    "/me",
    response_model=OrganiserOut,
    summary="The calling organiser",
    description="**Who:** any authenticated organiser.",
)
def me(organiser: CurrentOrganiser) -> OrganiserOut:
    return OrganiserOut.model_validate(organiser)


@router.get(
    "/me/tokens",
    response_model=list[TokenOut],
    summary="My API tokens",
    description="**Who:** any authenticated organiser; lists its own tokens (never their text).",
)
def list_tokens(organiser: CurrentOrganiser, db: DbSession) -> list[TokenOut]:
    return [TokenOut.model_validate(t) for t in service.list_tokens(db, organiser)]


@router.post(
    "/me/tokens",
    status_code=status.HTTP_201_CREATED,
    response_model=TokenIssued,
    responses=problem_responses(422),
    summary="Create an API token",
    description="**Who:** any authenticated organiser, for itself. The token is shown only in "
    "this response.",
)
def create_token(body: TokenCreate, organiser: CurrentOrganiser, db: DbSession) -> TokenIssued:
    token, secret = service.issue_token(db, organiser, body.name)
    return committed(
        db,
        TokenIssued.model_validate(
            {**TokenOut.model_validate(token).model_dump(), "token": secret}
        ),
    )


@router.delete(
    "/me/tokens/{token_id}",
    response_model=TokenOut,
    responses=problem_responses(404, 422),
    summary="Revoke an API token",
    description="**Who:** the organiser owning the token. A revoked token is refused at once "
    "(401). Revoking the token used for this very request is allowed.",
)
def revoke_token(token_id: RowId, organiser: CurrentOrganiser, db: DbSession) -> TokenOut:
    token = service.revoke_token(db, organiser, token_id)
    return committed(db, TokenOut.model_validate(token))
