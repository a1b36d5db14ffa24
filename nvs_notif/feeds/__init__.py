"""Atom 1.0 feeds (RFC 4287) of stored notifications and finished spans, with
RFC 5005 archive pages: :mod:`.entries` makes entries, :mod:`.archive` pages
them, :mod:`.atom` writes the XML."""
