"""The Google Sheets source kind, one module per job.

``connector`` (the ``SheetsConnector``: binding fields, bind, pull; no database),
``oauth`` (the OAuth 2 protocol with Google), ``services`` (connections written, tokens
encrypted at rest, the pull's token prepared) and ``selectors`` (connections read).
Import from those modules; nothing is re-exported here.
"""
