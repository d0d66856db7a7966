"""Agents: an account with its agent row, as Chronary's ``Agent``."""

from __future__ import annotations

from typing import Any

from calsync.api.chronary.mapping import timestamp
from calsync.store.repos.chronary import AgentRecord


def agent_json(agent: AgentRecord) -> dict[str, Any]:
    return {
        "id": agent.agent_id,
        "object": "agent",
        "name": agent.name,
        "type": agent.type,
        "description": agent.description,
        "status": agent.status,
        "metadata": agent.metadata,
        # Not Chronary's: the account the agent is, for the Cronofy dialect.
        "account_id": agent.account.sub,
        "created_at": timestamp(agent.created_at),
        "updated_at": timestamp(agent.updated_at),
    }
