"""JavaScript in QuickJS-NG compiled to WebAssembly: the reactor, its wrapper module, host calls, outcomes."""
