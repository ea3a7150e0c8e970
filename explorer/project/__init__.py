"""Projection: find the w / w+ that makes a generator draw a given image (NVlabs' projector, offline loss).

    loss = ProjectionLoss(targets)                      # MobileNetV2 perceptual + pixel + MS-SSIM
    result = project(G, targets, loss, ProjectorConfig(num_steps=500, space="w+"),
                     callback=on_step, cancel=event)   # on a worker thread in the app
    save_projection("projected_w.npz", result.ws, result.noise)
"""
from .losses import ProjectionLoss, parse_loss_spec, psnr
from .projector import (
    ProjectionResult,
    ProjectionStep,
    ProjectorConfig,
    load_projection_noise,
    project,
    save_projection,
    synthesize,
)

__all__ = ["ProjectionLoss", "parse_loss_spec", "psnr", "ProjectionResult", "ProjectionStep", "ProjectorConfig",
           "load_projection_noise", "project", "save_projection", "synthesize"]
