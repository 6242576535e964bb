"""`butterfly keys generate` and `butterfly token create`.

Thin front ends over the node security library: the key pair and the token
are made exactly as the running nodes expect them, so what these commands print
can be pasted into `[[cluster.members]]` or sent as a bearer token as is.
"""

from __future__ import annotations

import argparse

from butterfly_config.errors import ConfigError, ConfigIOError, UsageError
from butterfly_config.node.security import create_token as sign_token
from butterfly_config.node.security import generate_signing_keypair, load_jwt_secret


def generate(args: argparse.Namespace) -> int:
    """Write `{name}.key` / `{name}.pub` into --output-dir; refuse to replace existing keys."""
    name: str = args.name
    if not name or "/" in name or name in {".", ".."}:
        raise UsageError(f"--name {name!r} must be a plain file name stem such as 'signing'")
    pair = generate_signing_keypair(args.output_dir, algorithm=args.algorithm, name=name)
    print(f"private key: {pair.private_path}  (mode 0600, keep it secret)")
    print(f"public key:  {pair.public_path}")
    print(f"algorithm:   {args.algorithm}")
    print()
    print("Add to this node's entry in [[cluster.members]], in every node's configuration:")
    print(f'public_key = "{pair.public_key_b64}"')
    print()
    print("And in this node's own configuration:")
    print("[security.signing]")
    print(f'algorithm = "{args.algorithm}"')
    print(f'private_key_file = "{pair.private_path.resolve()}"')
    print(f'public_key_file = "{pair.public_path.resolve()}"')
    return 0


def _roles(values: list[str]) -> list[str]:
    """`--role a --role b` and `--role a,b` both give ["a", "b"]."""
    roles = [part.strip() for value in values for part in value.split(",")]
    if not roles or any(not role for role in roles):
        raise UsageError("--role needs a non-empty role name", hint="e.g. --role admin")
    return list(dict.fromkeys(roles))


def create_token(args: argparse.Namespace) -> int:
    """Print an HS256 JWT signed with the secret in --secret-file."""
    if args.ttl <= 0:
        raise UsageError(f"--ttl must be a positive number of seconds, got {args.ttl}")
    if not args.subject.strip():
        raise UsageError("--subject must not be empty", hint="e.g. --subject alice")
    roles = _roles(args.role)
    try:
        secret = load_jwt_secret(args.secret_file)
    except ConfigIOError as exc:
        raise ConfigIOError(
            f"--secret-file: {exc.message}",
            hint=f"create it first, e.g. head -c 32 /dev/urandom | base64 > {args.secret_file}",
        ) from exc
    except ConfigError as exc:
        raise UsageError(f"--secret-file {args.secret_file}: {exc.message}",
                         hint="write at least 32 random bytes into it") from exc
    token = sign_token(secret, args.subject, roles, args.ttl, args.issuer, args.audience)
    print(token)
    return 0
