"""Territory alignment (scenario kind ``alignment``): areas to territories, balanced, certified gap."""
