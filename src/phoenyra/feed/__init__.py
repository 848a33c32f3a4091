"""Market data: price sources (one module per provider in ``sources/``) and the feed runner."""
