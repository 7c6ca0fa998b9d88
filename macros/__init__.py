"""The guide's code: catalog loading, the sizing engine, rendering, the MkDocs glue and the CLI."""
