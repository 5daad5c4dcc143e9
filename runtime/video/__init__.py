"""Video through any model: ``stylize_video(VideoOptions(clip, output)) -> VideoResult``.

    >>> from nst.runtime.video import VideoOptions, is_video, stylize_video
    >>> if is_video("clip.mp4"):
    ...     print(stylize_video(VideoOptions(Path("clip.mp4"), Path("out.mp4"))).summary())

Needs ``nst[video]`` (PyAV; OpenCV for ``consistency="flow"``). See docs/VIDEO.md.
"""

from nst.runtime.video.pipeline import FrameCallback, VideoOptions, VideoResult, stylize_video
from nst.runtime.video.probe import VIDEO_SUFFIXES, VideoInfo, is_video, probe

__all__ = [
    "VIDEO_SUFFIXES",
    "FrameCallback",
    "VideoInfo",
    "VideoOptions",
    "VideoResult",
    "is_video",
    "probe",
    "stylize_video",
]
