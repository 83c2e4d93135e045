"""schemathesis hooks for wharf (loaded through SCHEMATHESIS_HOOKS).

An Amazon ECR secret mints its registry token at the ECR API of the region
its generated host names, or at a generated endpoint, whenever it is
downloaded: hosts a test must never contact. So no ECR secret is ever
created by the fuzzer (scripts/api-fuzz also checks afterwards that none
exists and that nothing was minted).
"""
import schemathesis


def _creates_ecr(context, body):
    op = context.operation
    return (
        op is not None
        and op.method.upper() == "POST"
        and op.path == "/api/v1/secrets"
        and isinstance(body, dict)
        and body.get("type") == "ecr"
    )


@schemathesis.hook
def filter_body(context, body):
    return not _creates_ecr(context, body)


@schemathesis.hook
def filter_case(context, case):
    return not _creates_ecr(context, case.body)


# A delivered secret's node image pattern must match its own registry only
# (kubelet sends the password to whatever host a pattern matches): a rule
# across two fields, the pattern and the registry host, that the document
# cannot state. A schema-valid body that breaks it is refused with 422 on
# node_patterns alone, saying why; that refusal, and no other, is not a
# failure of positive_data_acceptance.
CONFINEMENT = (
    "kubelet would send its password",
    "has a glob, but",
    "kubelet's patterns cannot name an IPv6 address",
)


def _pattern_off_its_registry(response):
    if response is None or response.status_code != 422:
        return False
    try:
        errors = response.json().get("errors") or {}
    except Exception:
        return False
    messages = errors.get("node_patterns") or []
    return (
        set(errors) == {"node_patterns"}
        and len(messages) > 0
        and all(any(s in m for s in CONFINEMENT) for m in messages)
    )


@schemathesis.hook
def filter_failure(context, failure, case, response):
    return not (
        getattr(failure, "code", None) == "ST202" and _pattern_off_its_registry(response)
    )
