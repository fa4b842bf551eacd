"""Pure parsers for mail-authentication DNS records: text in, typed result out, no I/O."""
