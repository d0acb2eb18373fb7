"""The event bus's adapters (`citywatch.domain.bus`): in process for one machine (`embedded`,
the default) and NATS JetStream for a city (`jetstream`, its listeners in `fanout`);
`connect.connect_bus` chooses by the `bus` setting."""
