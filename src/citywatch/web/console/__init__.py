"""The web console: server-rendered pages over the same runtime as the API, with a little
JavaScript that calls the API's own routes (signed in by the session cookie).

Each page is a route declared on the app with its one permission, like every API route; a
browser without a session is sent to `/login` (citywatch.web.api.auth)."""
