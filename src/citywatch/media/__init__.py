"""Image codecs shared by every stage: OpenCV's decoders behind citywatch's errors and limits."""
