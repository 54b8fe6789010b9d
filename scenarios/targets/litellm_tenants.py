"""Two tenants for a LiteLLM proxy without a database.

LiteLLM's virtual keys need a database; this custom auth hook gives each of two
fixed keys a user of its own instead, which is what LiteLLM keys its per-user
rules on (stored responses among them). Name it in the proxy's config, next to
which this file must be:

    general_settings:
      custom_auth: litellm_tenants.user_api_key_auth

and pass both keys to the suite: --key sk-tenant-a --key sk-tenant-b.
"""

from litellm.proxy._types import UserAPIKeyAuth

USERS = {"sk-tenant-a": "tenant-a", "sk-tenant-b": "tenant-b"}


async def user_api_key_auth(request, api_key):
    if api_key not in USERS:
        raise Exception("unknown key")
    return UserAPIKeyAuth(api_key=api_key, user_id=USERS[api_key])
