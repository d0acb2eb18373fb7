"""Stay-at-home orders: the orders, and the checks cameras ask of them."""
