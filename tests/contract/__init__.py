"""Contract tests every provider passes: subclass `provider_contract.ProviderContract`."""
