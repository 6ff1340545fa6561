"""Events: names and subscriptions, publishing (users, functions, pnil's own jsruntime.* domain
events), and the dispatch that runs subscribed EVENT functions."""
