"""One error hierarchy; adapters translate third-party errors into it, the CLI maps it to messages."""


class CitywatchError(Exception):
    """Base of every error citywatch raises on purpose."""


class NotFound(CitywatchError):
    """The thing asked for does not exist."""


class OutOfScope(NotFound):
    """The thing asked for lies outside the actor's camera scope. Answered exactly as one that
    does not exist (its message is that of NotFound for it), so that a scoped user cannot tell
    what exists beyond their cameras; the refusal itself is audited where it is raised."""


class PermissionDenied(CitywatchError):
    """The actor may not do this."""


class Conflict(CitywatchError):
    """The action clashes with what is stored (a duplicate name, a stale state)."""


class Fenced(Conflict):
    """A write made under a camera lease that a later holder has taken since (fencing): the
    writer lost the camera and must stop."""


class Unavailable(CitywatchError):
    """A source, model or service cannot be reached or read right now."""


class InvalidInput(CitywatchError):
    """Input that can never be processed as given (a corrupt image, a bad file, a bad setting)."""


class TooLarge(InvalidInput):
    """Input over a configured bound (an image's pixels, a form's parts): refused unprocessed."""


class CorruptMedia(InvalidInput):
    """An image or video that cannot be decoded."""


class NoFace(InvalidInput):
    """An image in which no face was found where exactly one was needed."""


class SeveralFaces(InvalidInput):
    """An image with several faces where exactly one was needed."""


class SourceUnavailable(Unavailable):
    """A camera or stream that cannot be opened, or that stopped delivering frames."""
