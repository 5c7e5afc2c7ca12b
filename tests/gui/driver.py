# SPDX-License-Identifier: GPL-3.0-or-later
"""Runs inside a real Blender window (``blender --python driver.py -- ZIP WORKDIR``).

Installs the legacy add-on zip, opens the 3D Viewport sidebar and clicks its "Ground
Truth" tab (xdotool), presses the panel's buttons in a user's order (Set Up Passes, Wire
Compositor, Render Ground Truth, Render Animation), captures the screen at each step
(ImageMagick's import), then undoes and redoes the operators with Ctrl+Z / Ctrl+Shift+Z,
and writes what it saw to WORKDIR/result.json before quitting. Driven by timers, so the
window draws between steps.
"""

import json
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path

import bpy
import numpy as np

ZIP, WORK = Path(sys.argv[sys.argv.index("--") + 1]), Path(sys.argv[sys.argv.index("--") + 2])
SHOTS = WORK / "screenshots"
RESULT = {"steps": [], "errors": [], "panel_drawn": 0}
BUTTONS = (
    "render.gt_setup_passes",
    "node.gt_wire_compositor",
    "render.gt_render_frame",
    "render.gt_render_animation",
    "wm.gt_open_3d_view",  # Debian's Blender has no Rerun: greyed, saying how to install it
)


def view3d():
    window = bpy.context.window_manager.windows[0]
    area = next(a for a in window.screen.areas if a.type == "VIEW_3D")
    region = next(r for r in area.regions if r.type == "UI")
    return window, area, region


def screenshot(name):
    """The X screen as it is shown, taken from outside (Blender refuses its own screenshot
    operator while it draws or renders)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    subprocess.run(["import", "-window", "root", str(SHOTS / f"{name}.png")], check=True)
    RESULT["steps"].append(name)


def operator(idname):
    category, name = idname.split(".")
    return getattr(getattr(bpy.ops, category), name)


def press(idname, *args):
    """Run a button's operator in the sidebar's context, as a click there would."""
    window, area, region = view3d()
    with bpy.context.temp_override(window=window, area=area, region=region):
        return sorted(operator(idname)(*args))


def button_states():
    """Each button: enabled, or the reason its tooltip gives for being greyed out."""
    window, area, region = view3d()
    states = {}
    with bpy.context.temp_override(window=window, area=area, region=region):
        for idname in BUTTONS:
            if operator(idname).poll():
                states[idname] = "enabled"
            else:
                try:
                    operator(idname)()
                except RuntimeError as error:
                    states[idname] = str(error)
    return states


def mark_drawn(panel, context):
    RESULT["panel_drawn"] += 1


def set_up():
    bpy.context.preferences.view.render_display_type = "NONE"  # keep the UI; no render window
    bpy.ops.preferences.addon_install(filepath=str(ZIP), overwrite=True)
    bpy.ops.preferences.addon_enable(module="ground_truth")
    bpy.types.VIEW3D_PT_gt_main.append(mark_drawn)  # counts the times our panel is drawn
    scene = bpy.context.scene
    scene.render.engine = "CYCLES"
    scene.cycles.samples = 4
    scene.cycles.use_denoising = False  # Debian's Cycles is built without OpenImageDenoise
    scene.render.resolution_x, scene.render.resolution_y = 160, 120
    scene.frame_start, scene.frame_end = 1, 4
    cube = bpy.data.objects["Cube"]
    cube.pass_index = 1
    for frame, x in ((1, -0.5), (4, 0.5)):
        cube.location.x = x
        cube.keyframe_insert("location", frame=frame)
    scene.frame_set(1)
    scene.ground_truth.output_dir = str(WORK / "out")
    scene.ground_truth.use_exr = True  # written without OpenEXR: this Blender links its own
    _, area, _ = view3d()
    area.spaces.active.show_region_ui = True


def tab_strip_points():
    """Points down the sidebar's tab strip (its right edge), in X11 screen coordinates."""
    window, _, region = view3d()
    x = region.x + region.width - 10
    top = window.height - (region.y + region.height)  # X11 counts from the top
    return [(x, top + offset) for offset in range(10, region.height, 20)]


def click(point):
    subprocess.run(["xdotool", "mousemove", str(point[0]), str(point[1]), "click", "1"], check=True)


def keys_over_viewport(keys):
    """Press ``keys`` (xdotool's names) with the mouse over the 3D Viewport, as a user would."""
    window, area, _ = view3d()
    region = next(r for r in area.regions if r.type == "WINDOW")
    x, y = region.x + region.width // 2, window.height - (region.y + region.height // 2)
    subprocess.run(["xdotool", "mousemove", str(x), str(y), "key", keys], check=True)


def scene_state():
    """What our operators touch, read from Blender's own names (not the add-on's)."""
    scene, layer = bpy.context.scene, bpy.context.view_layer
    tree = scene.node_tree
    flags = ("use_pass_z", "use_pass_normal", "use_pass_vector", "use_pass_object_index", "use_pass_material_index")
    return {
        "passes": {flag: getattr(layer, flag) for flag in (*flags, "use_pass_emit")},
        "use_nodes": scene.use_nodes,
        "nodes": sorted(node.name for node in tree.nodes) if tree else [],
        "links": sorted(
            f"{link.from_node.name}:{link.from_socket.identifier}>{link.to_node.name}:{link.to_socket.identifier}"
            for link in tree.links
        )
        if tree
        else [],
        "motion_blur": scene.render.use_motion_blur,
        "frame": scene.frame_current,
        "pass_indices": {obj.name: obj.pass_index for obj in scene.objects if obj.type == "MESH"},
    }


def undo_round():
    """Our operators, then Ctrl+Z and Ctrl+Shift+Z in the window: each step back gives
    the scene exactly as it was, and the add-on keeps working on the restored scene."""
    scene = bpy.context.scene
    scene.render.use_motion_blur = True
    for flag in ("use_pass_z", "use_pass_normal", "use_pass_vector"):
        setattr(bpy.context.view_layer, flag, False)
    cone = bpy.data.objects.new("UserCone", bpy.data.meshes.new("UserCone"))  # a user's object at index 0
    scene.collection.objects.link(cone)
    bpy.ops.ed.undo_push(message="the user's own changes")
    states, results = [scene_state()], []
    for idname in (
        "node.gt_remove_compositor",
        "render.gt_setup_passes",
        "node.gt_wire_compositor",
        "object.gt_assign_pass_indices",
    ):
        results.append(press(idname, "EXEC_DEFAULT", True))  # undo=True: the undo step a button's click pushes
        yield 0.3
        states.append(scene_state())
    seen_back = []
    for _ in range(len(states) - 1):
        keys_over_viewport("ctrl+z")
        yield 0.5
        seen_back.append(scene_state())
    seen_forward = []
    for _ in range(len(states) - 1):
        keys_over_viewport("ctrl+shift+z")
        yield 0.5
        seen_forward.append(scene_state())
    results.append(press("render.gt_render_frame"))
    yield 1.0
    RESULT["undo"] = {
        "states": states,
        "back": seen_back,
        "forward": seen_forward,
        "operators": results,
        "after_render": scene_state(),
        "npz_age_s": time.time() - (WORK / "out" / "npz" / "000001.npz").stat().st_mtime,
    }


STEPS = [(1, "forward"), (1, "backward"), (2, "forward"), (2, "backward")]


def wait_for_window_export(out, threads):
    """Until the render job has ended and the add-on's timer has written the frames
    it held (what the panel shows meanwhile is recorded)."""
    handlers = sys.modules["ground_truth.pipeline.handlers"]
    seen, started = [], time.time()
    while time.time() - started < 90:
        yield 0.2
        seen.append(handlers.finishing())
        if threads and not bpy.app.is_job_running("RENDER") and handlers.finishing() is None:
            if (out / "meta.json").exists():
                break
    return {
        "main_thread": list(threads),
        "held_then_written": [s for s in seen if s],
        "files": sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()),
    }


def window_renders():
    """F12 and Ctrl+F12 (frames 5-7, tracks) pressed over the viewport on Cycles, and F12
    on EEVEE (3.4's has no Vector pass: no flow there), with Export on F12 Render on, in
    a scene of passing, occluding and deforming
    objects; then the truth at frame 6 from Blender's ray casts (tests/blender's
    motion_truth and instance_truth), saved for the test to compare."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "blender"))
    import instance_truth
    import motion_truth

    scene = bpy.data.scenes.new("Passing")
    bpy.context.window.scene = scene
    scene.render.engine = "CYCLES"
    scene.cycles.samples = 4
    scene.cycles.use_denoising = False
    scene.render.resolution_x, scene.render.resolution_y, scene.render.resolution_percentage = 160, 120, 100
    motion_truth.build_passing_scene(scene)
    settings = scene.ground_truth
    settings.auto_export, settings.flow_offsets = True, "2"
    threads = []  # per render_post: whether it ran on Python's main thread

    def note_thread(*_):
        threads.append(threading.current_thread() is threading.main_thread())

    bpy.app.handlers.render_post.append(note_thread)
    scene.frame_set(6)
    yield 0.5
    settings.output_dir = str(WORK / "f12")
    keys_over_viewport("F12")
    RESULT["f12"] = yield from wait_for_window_export(WORK / "f12", threads)
    screenshot("07_f12")
    threads.clear()
    settings.output_dir = str(WORK / "ctrl_f12")
    settings.use_tracks, settings.tracks_per_object = True, 10
    scene.frame_start, scene.frame_end = 5, 7
    scene.render.filepath = str(WORK / "anim" / "f_")
    keys_over_viewport("ctrl+F12")
    RESULT["ctrl_f12"] = yield from wait_for_window_export(WORK / "ctrl_f12", threads)
    RESULT["ctrl_f12"]["frame_after"] = scene.frame_current
    threads.clear()  # EEVEE (legacy here: no Vector pass, so no flow and no occlusion)
    scene.render.engine = "BLENDER_EEVEE"
    scene.eevee.taa_render_samples = 4
    settings.output_dir, settings.use_tracks = str(WORK / "f12_eevee"), False
    scene.frame_set(6)
    yield 0.5
    keys_over_viewport("F12")
    RESULT["f12_eevee"] = yield from wait_for_window_export(WORK / "f12_eevee", threads)
    scene.render.engine = "CYCLES"
    _, away, truth = motion_truth.truth_around(scene, 6, STEPS)
    labels = instance_truth.labels(scene)
    keys = sorted({k for k in labels["key"].ravel() if k is not None})
    code = np.vectorize(lambda k: -1 if k is None else keys.index(k), otypes=[np.int64])(labels["key"])
    RESULT["truth_objects"] = [k[0] for k in keys]
    arrays = {"away": away, "key": code, **{n: labels[n] for n in ("object_index", "material_index", "interior")}}
    for (k, direction), (pixels, _, codes) in truth.items():
        arrays[f"pixels_{direction}_{k}"], arrays[f"codes_{direction}_{k}"] = pixels, codes
    np.savez(WORK / "truth.npz", **arrays)


def step_generator():
    set_up()
    yield 1.0
    subprocess.run(["xdotool", "key", "Escape"], check=True)  # dismiss a first-run screen, as a user would
    yield 0.5
    for point in tab_strip_points():  # click down the tabs (Item, Tool, View, ...) until ours shows
        RESULT["panel_drawn"] = 0
        click(point)
        yield 0.4
        if RESULT["panel_drawn"]:
            RESULT["tab_clicked_at"] = point
            break
    RESULT["tab_selected"] = RESULT["panel_drawn"] > 0
    RESULT["buttons_before"] = button_states()
    screenshot("01_panel")
    RESULT["setup_passes"] = press("render.gt_setup_passes")
    yield 0.5
    screenshot("02_passes")
    RESULT["wire"] = press("node.gt_wire_compositor")
    yield 0.5
    screenshot("03_wired")
    RESULT["render_frame"] = press("render.gt_render_frame")
    yield 1.5  # let the window redraw after the render before drawing it into a file
    screenshot("04_frame")
    RESULT["render_animation"] = press("render.gt_render_animation", "INVOKE_DEFAULT")
    animation = sys.modules["ground_truth.operators.animation"]
    seen_progress = False
    for _ in range(600):
        yield 0.2
        if animation.running is not None and animation.running.finished >= 1 and not seen_progress:
            yield 0.6  # let the panel settle into its new height, as the eye would see it
            screenshot("05_progress")
            seen_progress = True
        if animation.running is None:
            break
    RESULT["progress_seen"] = seen_progress
    RESULT["unfinished"] = animation.running is not None
    yield 0.5
    screenshot("06_done")
    RESULT["buttons_after"] = button_states()
    RESULT["files"] = sorted(str(p.relative_to(WORK / "out")) for p in (WORK / "out").rglob("*") if p.is_file())
    yield from undo_round()
    yield from window_renders()


steps = step_generator()


def tick():
    try:
        return next(steps)
    except StopIteration:
        pass
    except Exception:
        RESULT["errors"].append(traceback.format_exc())
    if not RESULT.get("unfinished"):  # a stuck render job: no result, so the test tries again
        (WORK / "result.json").write_text(json.dumps(RESULT, indent=2))
    bpy.ops.wm.quit_blender()
    return None


bpy.app.timers.register(tick, first_interval=2.0)
