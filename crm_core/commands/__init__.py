"""Subcommands of `crm`, one module per feature; each defines `register(subparsers)`.

A command handler receives the parsed args, opens the database with
`crm_core.cli.open_db(args)`, gets the actor with `crm_core.cli.acting_user`,
and raises `CrmError` for anything the user did wrong.
"""
