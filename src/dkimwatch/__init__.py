"""dkimwatch: a pytest compliance suite for Exchange Online DKIM, SPF and DMARC records."""

__version__ = "0.1.0"
