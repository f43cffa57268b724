"""Renderer: a loaded network on a device, turning seeds, latents and recipes into images.

The CLI and the GUI's inference thread both call this; it holds no UI state. Images come
back as uint8 arrays [H, W, C] quantised exactly as the reference tools do
(``clamp(img * 127.5 + 128, 0, 255)`` truncated to uint8), so "seed N" is the same picture here
and in NVIDIA's ``generate.py``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable, Iterator, Sequence

import numpy as np
import torch

from studio.core.device import pick_device
from studio.core.errors import StudioError
from studio.gan import latents
from studio.gan.formats import LoadedNetwork
from studio.gan.recipe import Edit, Latent, ModelRef, Recipe, Regions, StyleMix
from studio.gan.render_settings import RenderSettings

ProgressFn = Callable[[int, int], None]   # (done, total)
CancelFn = Callable[[], bool]


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """[N, C, H, W] float in about [-1, 1] -> [N, H, W, C] uint8, as the reference quantises."""
    x = (images * 127.5 + 128).clamp(0, 255).to(torch.uint8)
    return x.permute(0, 2, 3, 1).cpu().numpy()



def early_exit(G, at_least: int, below: int) -> int | None:
    """The smallest resolution at which ``G``'s synthesis can stop early (its running image) that is
    at least ``at_least`` and below ``below`` px, or None."""
    previews = getattr(G.synthesis, "preview_resolutions", None)
    usable = [r for r in (previews() if previews else []) if at_least <= r < below]
    return min(usable) if usable else None


class Renderer:
    """Renders images from one network. Not thread-safe: one caller (thread) at a time."""

    def __init__(self, network: LoadedNetwork, device: str | torch.device = "auto", batch_size: int | None = None,
                 backend: str = "torch", precision: str = "auto"):
        self.network = network
        self.device = pick_device(device)
        self.G = network.G.to(self.device).eval().requires_grad_(False)
        self.batch_size = batch_size or (8 if self.device.type != "cpu" else 4)
        self.half_from = self._half_from(precision)
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True      # the fastest kernels for each layer's shape, found once
        self.onnx = None
        self.backend = self._open_backend(backend)

    def _half_from(self, precision: str) -> int | None:
        """The resolution from which blocks compute in float16: NVIDIA's choice on a GPU (the four
        highest resolutions of a StyleGAN2 or SWAGAN network), none on a CPU unless asked."""
        if precision not in ("auto", "fp32", "fp16"):
            raise ValueError(f"precision is auto, fp32 or fp16, not {precision!r}")
        # auto: only networks trained with a clamp (as NVIDIA's fp16 layers are), which keeps float16 in range
        clamped = getattr(self.G.config, "conv_clamp", None) is not None
        wanted = precision == "fp16" or (precision == "auto" and self.device.type == "cuda" and clamped)
        if not wanted or getattr(self.G.config, "kind", "") not in ("stylegan2", "swagan"):
            return None
        resolutions = self.G.synthesis.block_resolutions
        return resolutions[max(0, len(resolutions) - 4)]

    def _open_backend(self, backend: str) -> str:
        """Set up ``backend`` (torch, onnx, auto: what measured faster on this kind of machine); returns
        what renders, in words."""
        from studio.gan import onnx_backend

        if backend not in onnx_backend.BACKENDS:
            raise ValueError(f"the backend is one of {', '.join(onnx_backend.BACKENDS)}, not {backend!r}")
        chosen = onnx_backend.auto_choice(self.device, self.G) if backend == "auto" else backend
        if chosen == "torch":
            return f"PyTorch ({self.device.type})"
        try:
            onnx_backend.check_memory(self.G)
            graph = onnx_backend.cached_graph(self.network)
            self.onnx = onnx_backend.OnnxSynthesis(graph)
        except Exception as exc:  # noqa: BLE001 - the exporter's own failures, said in one sentence
            if backend == "auto":                     # auto takes ONNX Runtime only where it works
                return f"PyTorch ({self.device.type})"
            if isinstance(exc, StudioError):
                raise
            raise StudioError(f"{self.network.name} could not be exported to ONNX ({exc})") from None
        return f"ONNX Runtime ({self.onnx.provider})"

    # -- model facts --------------------------------------------------------------------------
    @property
    def model_ref(self) -> ModelRef:
        return ModelRef(self.network.fingerprint, self.network.name, str(self.network.path))

    @property
    def num_ws(self) -> int:
        return self.G.num_ws

    # -- latents ------------------------------------------------------------------------------
    def labels(self, class_index: int | None, n: int) -> torch.Tensor | None:
        if self.G.c_dim == 0:
            return None
        c = latents.one_hot(class_index, self.G.c_dim)
        return torch.from_numpy(c).to(self.device).unsqueeze(0).repeat(n, 1)

    def ws_from_z(self, z: np.ndarray | torch.Tensor, settings: RenderSettings) -> torch.Tensor:
        z = torch.as_tensor(np.asarray(z, dtype=np.float32) if isinstance(z, np.ndarray) else z,
                            dtype=torch.float32).to(self.device).reshape(-1, self.G.z_dim)
        with torch.inference_mode():
            ws = self.G.mapping(z, self.labels(settings.class_index, z.shape[0]),
                                truncation_psi=settings.truncation_psi,
                                truncation_cutoff=settings.truncation_cutoff)
            if settings.edits:
                from studio.gan.directions import apply_edits

                ws = apply_edits(ws, settings.edits)
            return ws

    def ws_from_seeds(self, seeds: Sequence[int], settings: RenderSettings) -> torch.Tensor:
        return self.ws_from_z(latents.zs_from_seeds(list(seeds), self.G.z_dim), settings)

    def ws_from_latent(self, latent: Latent, settings: RenderSettings) -> torch.Tensor:
        """[1, num_ws, w_dim] for a seed, a z, or an explicit w (one vector or all layers).

        A z or w that does not fit this model (another model's, or a damaged file's) is a
        ValueError that says which shapes the model takes.
        """
        G = self.G
        if latent.w is not None:
            shape = tuple(latent.w.shape)
            if shape[-1:] != (G.w_dim,) or latent.w.size not in (G.w_dim, self.num_ws * G.w_dim):
                raise ValueError(f"the recipe's w has the shape {list(shape)}, which does not fit this model: it takes "
                                 f"one w of {G.w_dim} numbers, or one per layer ({self.num_ws} x {G.w_dim})")
            w = torch.from_numpy(latent.w).to(self.device, torch.float32).reshape(1, -1, G.w_dim)
            if w.shape[1] == 1:
                w = w.repeat(1, self.num_ws, 1)
            return w
        if latent.z is not None:
            if latent.z.size != G.z_dim or latent.z.shape[-1:] != (G.z_dim,):
                raise ValueError(f"the recipe's z has the shape {list(latent.z.shape)}, which does not fit this model: "
                                 f"it takes one z of {G.z_dim} numbers")
            return self.ws_from_z(latent.z, settings)
        if latent.seed is not None:
            return self.ws_from_seeds([latent.seed], settings)
        raise ValueError("the latent has no seed, z or w")

    # -- images -------------------------------------------------------------------------------
    def synthesize(self, ws: torch.Tensor, settings: RenderSettings, noise_seeds: Sequence[int] | None = None) -> np.ndarray:
        """ws [N, num_ws, w_dim] -> uint8 images [N, H, W, C], in batches."""
        out = []
        for start in range(0, ws.shape[0], self.batch_size):
            chunk = ws[start:start + self.batch_size].to(self.device)
            seeds = noise_seeds[start:start + self.batch_size] if noise_seeds is not None else None
            out.append(self._synthesize_batch(chunk, settings, seeds))
        return np.concatenate(out) if out else np.zeros((0,), np.uint8)

    def _synthesize_batch(self, ws, settings, noise_seeds):
        generators = None
        if settings.noise_mode == "random":
            if noise_seeds is None:
                base = settings.noise_seed if settings.noise_seed is not None else 0
                noise_seeds = [base + i for i in range(ws.shape[0])]
            generators = [torch.Generator(device="cpu").manual_seed(int(s)) for s in noise_seeds]
        from studio.gan.networks import ops

        self.check_canvas(settings)
        if self.onnx is not None and self.onnx.handles(settings):
            return to_uint8(self.onnx(ws, self.view_kwargs(settings).get("view")))
        with torch.inference_mode(), ops.tiling(settings.tile), ops.canvas(settings.canvas), \
                ops.half_from(self.half_from):
            img = self.G.synthesis(ws, noise_mode=settings.noise_mode, noise_generator=generators,
                                   **self.view_kwargs(settings))
        return to_uint8(img)

    def check_canvas(self, settings: RenderSettings, regions: Regions | None = None) -> None:
        """Refuse, in one sentence, a tile, canvas or region map this network cannot draw."""
        kind = getattr(self.G.config, "kind", "")
        if settings.tile and not self.can_tile:
            why = (" (its Fourier input's frequencies are not whole cycles per tile)" if kind == "stylegan3" else "")
            raise ValueError(f"seamless tiles come from StyleGAN2 and SWAGAN networks; {self.network.name} is a "
                             f"{self.network.kind} network{why}")
        if settings.canvas is not None and tuple(settings.canvas) != (4, 4) and not self.can_widen:
            raise ValueError(f"native canvases come from StyleGAN2, SWAGAN and StyleGAN3 networks; "
                             f"{self.network.name} is a {self.network.kind} network")
        if regions is not None and not self.can_tile:
            raise ValueError(f"many latents on one canvas need a StyleGAN2 or SWAGAN network; {self.network.name} "
                             f"is a {self.network.kind} network")

    @property
    def can_tile(self) -> bool:
        """Whether the network renders seamless tiles and region maps (StyleGAN2's and SWAGAN's layers
        wrap around, and their styles can vary across the canvas)."""
        return getattr(self.G.config, "kind", "") in ("stylegan2", "swagan")

    @property
    def can_widen(self) -> bool:
        """Whether the network draws native wide and tall canvases (a widened constant or Fourier grid)."""
        return getattr(self.G.config, "kind", "") in ("stylegan2", "swagan", "stylegan3")

    @property
    def blend_resolutions(self) -> list[int]:
        """Where the regions of a shared canvas can meet: the blocks' resolutions, in output px."""
        if not self.can_tile:
            return []
        scale = 2 if getattr(self.G.config, "kind", "") == "swagan" else 1     # SWAGAN's blocks run at half size
        return [scale * r for r in self.G.synthesis.block_resolutions]

    def canvas_size(self, settings: RenderSettings) -> tuple[int, int]:
        """(width, height) in pixels of the images ``settings`` make."""
        res = self.G.img_resolution
        units = settings.canvas or (4, 4)
        return res * units[0] // 4, res * units[1] // 4

    def synthesize_regions(self, ws: torch.Tensor, regions: Regions, settings: RenderSettings,
                           noise_seed: int | None = None) -> np.ndarray:
        """One canvas shared by the K latents ``ws`` [K, num_ws, w_dim] as ``regions`` lays them out:
        uint8 [H, W, C]."""
        from studio.gan.networks import ops
        from studio.gan.regions import MaskPyramid, soft_masks

        self.check_canvas(settings, regions)
        width, height = self.canvas_size(settings)
        masks = MaskPyramid(soft_masks(regions.labels, ws.shape[0], height, width, regions.feather,
                                       wrap=settings.tile).to(self.device))
        with torch.inference_mode(), ops.tiling(settings.tile), ops.canvas(settings.canvas):
            img = self.G.synthesis.forward_regions(ws.to(self.device), masks, regions.blend, settings.noise_mode,
                                                   noise_seed)
        return to_uint8(img)[0]

    @property
    def has_view(self) -> bool:
        """Whether the network can be moved and turned (StyleGAN3's Fourier input can)."""
        return getattr(self.G.config, "kind", "") == "stylegan3"

    def view_kwargs(self, settings: RenderSettings) -> dict:
        """What ``G.synthesis`` needs for the settings' translate / rotate (nothing for other networks)."""
        if not (self.has_view and settings.moves_view):
            return {}
        from studio.gan.networks.stylegan3 import view_transform

        return {"view": view_transform(settings.translate, settings.rotate)}

    def render_seeds(
        self,
        seeds: Sequence[int],
        settings: RenderSettings = RenderSettings(),
        *,
        progress: ProgressFn | None = None,
        should_cancel: CancelFn | None = None,
    ) -> Iterator[tuple[int, np.ndarray]]:
        """Yield (seed, image) batch by batch; checks ``should_cancel`` between batches."""
        seeds = list(seeds)
        for start in range(0, len(seeds), self.batch_size):
            if should_cancel is not None and should_cancel():
                return
            batch = seeds[start:start + self.batch_size]
            ws = self.ws_from_seeds(batch, settings)
            noise = self.noise_seeds(batch, settings)
            images = self._synthesize_batch(ws, settings, noise)
            for seed, image in zip(batch, images):
                yield seed, image
            if progress is not None:
                progress(min(start + len(batch), len(seeds)), len(seeds))

    @staticmethod
    def noise_seeds(seeds: Sequence[int], settings: RenderSettings) -> list[int] | None:
        """Per-image noise seeds as recipes record them: the settings' seed, else each image's own."""
        if settings.noise_mode != "random":
            return None
        if settings.noise_seed is not None:
            return [settings.noise_seed] * len(seeds)
        return list(seeds)

    def render_mix_ws(
        self,
        form_ws: torch.Tensor,
        style_ws: torch.Tensor,
        layers: Sequence[int],
        settings: RenderSettings = RenderSettings(),
        *,
        noise_seeds: Sequence[int] | None = None,
        cells: Sequence[tuple[int, int]] | None = None,
        progress: ProgressFn | None = None,
        should_cancel: CancelFn | None = None,
    ) -> Iterator[tuple[int, int, np.ndarray]]:
        """Every form with every style (or only ``cells``): yields (form index, style index, image),
        form-major. ``noise_seeds`` has one seed per cell of the whole matrix.

        Each cell keeps its form's ws except at ``layers``, which come from the style.
        """
        bad = [i for i in layers if not 0 <= i < self.num_ws]
        if bad:
            raise ValueError(f"style layers {bad} are outside 0-{self.num_ws - 1} for this model")
        ws = latents.mix_styles(form_ws, style_ws, list(layers))
        n_styles = style_ws.shape[0]
        if cells is None:
            cells = [(f, s) for f in range(form_ws.shape[0]) for s in range(n_styles)]
        flat = [f * n_styles + s for f, s in cells]
        for start in range(0, len(cells), self.batch_size):
            if should_cancel is not None and should_cancel():
                return
            chunk = cells[start:start + self.batch_size]
            rows = flat[start:start + len(chunk)]
            noise = [noise_seeds[k] for k in rows] if noise_seeds is not None else None
            images = self._synthesize_batch(ws[rows], settings, noise)
            for (f, s), image in zip(chunk, images):
                yield f, s, image
            if progress is not None:
                progress(start + len(chunk), len(cells))

    # -- recipes ------------------------------------------------------------------------------
    def recipe(self, settings: RenderSettings, *, seed: int | None = None, z=None, w=None,
               mix: StyleMix | None = None, edits: Sequence[Edit] = ()) -> Recipe:
        """The recipe that re-creates an image rendered with ``settings``."""
        return Recipe(
            model=self.model_ref, seed=seed, z=z, w=w, class_index=settings.class_index,
            truncation_psi=settings.truncation_psi, truncation_cutoff=settings.truncation_cutoff,
            noise_mode=settings.noise_mode,
            noise_seed=settings.noise_seed if settings.noise_seed is not None else (
                seed if settings.noise_mode == "random" else None),
            mix=mix,
            translate=tuple(settings.translate) if self.has_view else (0.0, 0.0),
            rotate=settings.rotate if self.has_view else 0.0,
            edits=list(settings.edits) + list(edits),
            tile=bool(settings.tile),
            canvas=list(settings.canvas) if settings.canvas else None,
        )

    @staticmethod
    def settings_of(recipe: Recipe) -> RenderSettings:
        return RenderSettings(recipe.truncation_psi, recipe.truncation_cutoff, recipe.class_index,
                              recipe.noise_mode, recipe.noise_seed, tuple(recipe.translate), recipe.rotate,
                              tile=recipe.tile, canvas=tuple(recipe.canvas) if recipe.canvas else None)

    def check_recipe(self, recipe: Recipe) -> None:
        """Refuse a recipe made with another model than this one, naming the model it needs."""
        if recipe.model.fingerprint != self.network.fingerprint:
            raise ValueError(f"this image was made with '{recipe.model.name}', not with the open model; "
                             "open that model first")

    def recipe_ws(self, recipe: Recipe) -> torch.Tensor:
        """[1, num_ws, w_dim] of a recipe with its own truncation, class and style mix."""
        settings = self.settings_of(recipe)
        ws = self.ws_from_latent(recipe.latent, settings)
        if recipe.mix is not None:
            ws = latents.mix_styles(ws, self.ws_from_latent(recipe.mix.source, settings), recipe.mix.layers)
        if recipe.edits:
            from studio.gan.directions import apply_edits

            ws = apply_edits(ws, recipe.edits)
        return ws

    def regions_ws(self, recipe: Recipe) -> torch.Tensor:
        """[K, num_ws, w_dim]: the recipe's own ws and each region latent's, with the same truncation,
        class, style mix and edits."""
        others = [replace(recipe, seed=v.seed, z=v.z, w=v.w, regions=None) for v in recipe.regions.latents]
        return torch.cat([self.recipe_ws(r) for r in [recipe] + others])

    def render_recipe(self, recipe: Recipe) -> np.ndarray:
        """Re-create the image a recipe describes: uint8 [H, W, C]."""
        settings = self.settings_of(recipe)
        if recipe.regions is not None:
            return self.synthesize_regions(self.regions_ws(recipe), recipe.regions, settings, recipe.noise_seed)
        ws = self.recipe_ws(recipe)
        noise = [recipe.noise_seed] if recipe.noise_mode == "random" and recipe.noise_seed is not None else None
        return self._synthesize_batch(ws, replace(settings), noise)[0]
