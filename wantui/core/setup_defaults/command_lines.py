"""The training step's argv and its explicit ``accelerate launch`` flags."""

from __future__ import annotations

from wantui.core.setup_defaults.training_settings import TrainingSettings


def train_args(s: TrainingSettings, *, dit: str, dit_high_noise: str | None = None) -> list[str]:
    """The training script's argv (without --dataset_config, which the project adds)."""
    args = ["--task", s.task, "--dit", dit]
    if dit_high_noise:
        args += ["--dit_high_noise", dit_high_noise]
    args += ["--mixed_precision", s.mixed_precision, "--sdpa"]
    args += ["--optimizer_type", s.optimizer, "--learning_rate", s.learning_rate]
    if s.gradient_checkpointing:
        args.append("--gradient_checkpointing")
    args += ["--network_module", "networks.lora_wan", "--network_dim", str(s.network_dim)]
    args += ["--network_alpha", str(s.network_alpha)]
    args += ["--timestep_sampling", "shift", "--discrete_flow_shift", "3.0"]
    args += ["--max_data_loader_n_workers", "2", "--persistent_data_loader_workers"]
    args += [
        "--max_train_epochs",
        str(s.max_train_epochs),
        "--save_every_n_epochs",
        str(s.save_every_n_epochs),
    ]
    args += ["--seed", "42", "--output_dir", s.output_dir, "--output_name", s.output_name]
    if s.fp8_base:
        args.append("--fp8_base")
    if s.fp8_scaled:
        args.append("--fp8_scaled")
    if s.blocks_to_swap:
        args += ["--blocks_to_swap", str(s.blocks_to_swap)]
    if s.offload_inactive_dit:
        args.append("--offload_inactive_dit")
    return args


def launch_args(s: TrainingSettings) -> list[str]:
    """Explicit accelerate flags, so accelerate never guesses (e.g. multi-GPU without a config)."""
    out = ["--num_cpu_threads_per_process", "1", "--num_processes", str(s.num_processes)]
    out += ["--num_machines", "1", "--mixed_precision", s.mixed_precision, "--dynamo_backend", "no"]
    if s.num_processes > 1:
        out.insert(0, "--multi_gpu")
    return out
