"""Sources → sampled frames: video files, image folders and network streams, behind `FrameSource`."""
