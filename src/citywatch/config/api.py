"""The HTTP API that `citywatch run` serves: where it listens and how its live alert feed behaves."""

from __future__ import annotations

from pydantic import Field, model_validator

from citywatch.config.base import Section

ENROLMENT_FIELDS = 8
"""Parts an enrolment form carries besides its photos (its text fields, with room to spare)."""


class ApiSettings(Section):
    enabled: bool = Field(
        False,
        description="Serve the HTTP API (live alert feed, health) while `citywatch run` watches the "
        "cameras. Callers sign in with an API token (`citywatch user token issue`).",
    )
    host: str = Field(
        "127.0.0.1",
        min_length=1,
        description="Address to listen on. Tokens travel in clear over plain HTTP: beyond this "
        "machine, serve it behind a TLS proxy.",
    )
    port: int = Field(8080, ge=0, le=65535, description="TCP port to listen on (0: any free port).")
    body_max_kb: int = Field(
        1024,
        ge=16,
        le=64 * 1024,
        description="Largest request body (KB of 1024 bytes) any route but an upload reads: a "
        "larger one is refused (413) unread when its declared length says so, or as soon as a "
        "streamed one passes it. The largest legitimate JSON body, a hold naming its 10,000 "
        "items, indented, is about 630 KB. The upload routes take up to their own photo limits instead.",
    )
    enrol_image_max_mb: float = Field(
        10.0,
        gt=0,
        le=100,
        description="Largest reference photo an enrolment upload may carry; a larger one is refused "
        "(413) before the request is read to the end.",
    )
    enrol_images_max: int = Field(
        10, ge=1, le=100, description="Most reference photos one enrolment upload may carry."
    )
    upload_max_pixels: int = Field(
        40_000_000,
        ge=1_000_000,
        le=80_000_000,
        description="Pixel budget of an uploaded photo (width x height, as its header declares "
        "them): a larger one is refused (413) from its header, before any decoding, so that a "
        "small file declaring a huge image cannot take the server's memory and time. 40 MP is "
        "more than any phone camera's photo.",
    )
    decodes_at_once: int = Field(
        2,
        ge=1,
        le=64,
        description="Uploaded forms parsed and photos decoded at the same time (on worker threads, "
        "never on the thread that answers requests); more wait their turn, so that a flood of "
        "uploads cannot take every thread or the memory of many decodes at once.",
    )
    form_parts_max: int = Field(
        256,
        ge=16,
        le=10_000,
        description="Most parts (text fields and files together) one multipart form may carry; a "
        "form with more is refused (413) at the first part too many, the rest unparsed. A case "
        "search naming 200 cameras, each its own field, needs about 210.",
    )
    form_field_max_kb: int = Field(
        64,
        ge=1,
        le=1024,
        description="Largest text field (KB of 1024 bytes) of a multipart form; a larger one is "
        "refused (413). Files are bounded by their own limits instead.",
    )
    clip_max_s: float = Field(
        600.0,
        gt=0,
        le=24 * 3600,
        description="Longest window of recorded footage one clip (`GET /api/recordings/clip`) may "
        "cut; a longer one is refused (422): hours of footage are an export, not a clip.",
    )
    heartbeat_s: float = Field(
        15.0, gt=0, le=300, description="Interval of the keep-alive comments on an idle alert stream."
    )
    feed_queue: int = Field(
        256,
        ge=1,
        le=100_000,
        description="Alerts a live-feed client may leave unread before it is dropped; it reconnects "
        "and replays what it missed from the store.",
    )
    send_timeout_s: float = Field(
        10.0, gt=0, le=300, description="A client that takes longer than this to accept one event is dropped."
    )
    recheck_s: float = Field(
        60.0,
        gt=0,
        le=3600,
        description="How often an open alert stream checks its token again: a revoked token, a "
        "disabled user or a changed role or camera scope ends it.",
    )
    public_photo_max_mb: float = Field(
        8.0,
        gt=0,
        le=100,
        description="Largest photo the public subject-access form accepts; a larger upload is "
        "refused (413) before it is read to the end.",
    )
    public_requests_per_hour: int = Field(
        5,
        ge=1,
        le=10_000,
        description="Subject-access requests one address may file through the public form per hour "
        "(each one searches footage); more are refused (429) until the hour has passed.",
    )
    public_searches_at_once: int = Field(
        2,
        ge=1,
        le=64,
        description="Subject-access searches the public form runs at the same time; a request "
        "beyond them is refused (503, try again) rather than queued, so that the form never takes "
        "the threads the console's own requests need.",
    )
    session_hours: float = Field(
        12.0,
        gt=0,
        le=24 * 30,
        description="How long a console sign-in lasts before the browser must sign in again.",
    )
    cookie_secure: bool = Field(
        False,
        description="Send the console's session cookie over HTTPS only: set it when the console is "
        "served behind a TLS proxy (the default serves plain HTTP on this machine).",
    )
    logins_per_15min: int = Field(
        20,
        ge=1,
        le=10_000,
        description="Password sign-ins one address may try in 15 minutes; more are refused (429).",
    )
    password_failures_per_account: int = Field(
        10,
        ge=1,
        le=10_000,
        description="Wrong passwords one user name (whether it exists or not) may be given in 15 "
        "minutes, from any number of addresses; past them every password for that name is refused "
        "(429, unchecked) until the oldest failure is 15 minutes old, and the lock is audited "
        "once (`auth.rate_limited`, `user:<name>`). Someone guessing can keep a name locked out of "
        "password sign-in for as long as they keep guessing (its tokens and sessions still work); no "
        "one can guess one name's password faster than this, however many addresses they use.",
    )
    failed_token_sign_ins_per_15min: int = Field(
        30,
        ge=1,
        le=100_000,
        description="Failed token or session-cookie sign-ins (unknown, expired or revoked) one address "
        "(an IPv6 /64) may make in 15 minutes; each is audited. Past them its failures are refused "
        "(429) without an audit record until the window has passed (one `auth.rate_limited` record "
        "says so), and at most 10 times as many failures are audited across all addresses, so that "
        "random tokens cannot grow the audit log without bound. A valid token is never refused.",
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        max_length=100,
        description="Addresses (or networks, e.g. 10.0.0.0/8) of reverse proxies whose "
        "X-Forwarded-For names the real client: the per-address limits on sign-ins and on the "
        "public form then count each client, not the proxy. Empty (the default): no proxy is "
        "trusted and the header is ignored, so that no client picks the address it is counted "
        "under. Never list an address anyone else can connect from (127.0.0.1 only when the "
        "proxy is the one program on this machine that may connect).",
    )
    shutdown_s: float = Field(
        5.0, gt=0, le=120, description="How long stopping waits for open requests to finish."
    )

    @model_validator(mode="after")
    def verify_form_parts(self) -> ApiSettings:
        """An enrolment with its most photos must fit in a form's parts."""
        if self.form_parts_max < self.enrol_images_max + ENROLMENT_FIELDS:
            raise ValueError(
                f"form_parts_max ({self.form_parts_max}) must be at least enrol_images_max "
                f"({self.enrol_images_max}) + {ENROLMENT_FIELDS}: an enrolment's photos and fields"
            )
        return self
