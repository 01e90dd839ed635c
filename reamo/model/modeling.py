"""ReamoModel: ImageBind encoder -> projector -> LLM (+LoRA) -> grounding heads.

Media embeddings enter the LLM the way HF transformers' LLaVA does it: the prompt holds
`media_tokens[modality]` placeholder ids per media item and `inputs_embeds.masked_scatter` fills them with
projected features, after checking that the counts agree. Nothing is spliced at constant offsets.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from reamo.model.binding import binding_loss, media_rows
from reamo.model.config import ReamoConfig
from reamo.errors import InputError, UnsupportedModalityError
from reamo.model.llm import prepare_llm
from reamo.model.processor import IGNORE_INDEX, ReamoProcessor
from reamo.model.projector import MediaProjector, select_media_tokens
from reamo.model.tokens import MEDIA_MODALITIES


@dataclass
class MediaFeatures:
    """Encoder outputs of one modality for all items of a batch, in prompt order."""

    pooled: torch.Tensor  # [n, D]
    tokens: torch.Tensor | None = None  # [n, N, D]


@dataclass
class MediaBatch:
    """The media of a batch, per modality, in the order their placeholders appear (row by row).

    Each modality holds either preprocessed inputs (`inputs[m]`: a tensor [n, ...]) or precomputed
    encoder features (`features[m]`, e.g. from the embedding cache)."""

    inputs: dict[str, torch.Tensor] = field(default_factory=dict)
    features: dict[str, MediaFeatures] = field(default_factory=dict)

    def modalities(self) -> list[str]:
        return [m for m in MEDIA_MODALITIES if m in self.inputs or m in self.features]

    def count(self, modality: str) -> int:
        if modality in self.features:
            return self.features[modality].pooled.shape[0]
        return self.inputs[modality].shape[0] if modality in self.inputs else 0

    def to(self, device, dtype=None) -> "MediaBatch":
        def mv(t):
            return None if t is None else t.to(device=device, dtype=dtype if t.is_floating_point() else None)

        return MediaBatch({m: mv(t) for m, t in self.inputs.items()},
                          {m: MediaFeatures(mv(f.pooled), mv(f.tokens)) for m, f in self.features.items()})


@dataclass
class ReamoOutput:
    loss: torch.Tensor | None
    logits: torch.Tensor
    hidden_states: torch.Tensor | None = None  # last layer, [B, T, H], when asked for
    lm_loss: torch.Tensor | None = None


class ReamoModel(nn.Module):
    def __init__(self, config: ReamoConfig, *, llm_device: str | None = None, tokenizer_dir=None):
        super().__init__()
        from encoders import ImageBindEncoder
        from grounding import GroundingHeads

        self.config = config
        torch.manual_seed(config.seed)
        tokenizer = None
        if tokenizer_dir is not None:  # a saved checkpoint's tokenizer: the exact ids it was trained with
            from transformers import AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir), local_files_only=True)
            tokenizer.padding_side = "left"
        self.tokenizer, self.llm, self.special_ids = prepare_llm(config.llm, config.lora, tokenizer=tokenizer,
                                                                 device=llm_device)
        hidden = self.llm.config.hidden_size
        self.encoder = ImageBindEncoder(config.encoder)
        self.projector = MediaProjector(config.projector.in_dim, hidden)
        self.heads = GroundingHeads(config.grounding, query_dim=hidden)
        self.processor = ReamoProcessor(self.tokenizer, self.special_ids, config.media_tokens, config.max_length)

    # ---- media -> LLM embeddings -------------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        return self.projector.fc1.weight.device

    def encode_media(self, modality: str, inputs: torch.Tensor) -> MediaFeatures:
        """Frozen encoder features of a batch of preprocessed inputs of one modality."""
        if modality not in self.config.modalities:
            raise UnsupportedModalityError(modality, self.config.modalities)
        with torch.no_grad():
            out = self.encoder.encode(modality, inputs)
        return MediaFeatures(out.pooled, out.tokens)

    def media_embeddings(self, modality: str, media: MediaBatch) -> torch.Tensor:
        """Projected LLM-space vectors of all items of `modality`: [n * media_tokens, H]."""
        return self.project_media(media, [modality])[modality]

    def project_media(self, media: MediaBatch | None, modalities=None) -> dict[str, torch.Tensor]:
        """Projected LLM-space vectors of every item of each modality: {m: [n_m * media_tokens[m], H]}.

        The projector runs once for the whole batch, all modalities together. In training it runs even when
        the batch holds no media (on one zero row whose output is kept under key "" and enters the loss times
        0): under DeepSpeed every rank must run the same modules and reduce the same gradients in each step,
        whatever media its own micro-batch holds."""
        present = [m for m in (media.modalities() if media is not None else []) if modalities is None or m in modalities]
        dtype = self.projector.fc1.weight.dtype
        xs, sizes = [], []
        for m in present:
            feats = media.features.get(m) or self.encode_media(m, media.inputs[m])
            n = self.config.media_tokens[m]
            x = select_media_tokens(feats.pooled, feats.tokens if n > 1 else None, n)
            xs.append(x.reshape(-1, x.shape[-1]).to(dtype))
            sizes.append(xs[-1].shape[0])
        if not xs:
            if not self.training:
                return {}
            xs, sizes, present = [torch.zeros(1, self.projector.fc1.in_features, device=self.device, dtype=dtype)], [1], [""]
        out = self.projector(torch.cat(xs))
        return dict(zip(present, out.split(sizes)))

    def embed_inputs(self, input_ids: torch.Tensor, media: MediaBatch | None,
                     projected: dict[str, torch.Tensor] | None = None) -> torch.Tensor:
        """Token embeddings with each media placeholder filled by its projected vector (`projected`: the
        output of `project_media` when the caller has it already)."""
        embeds = self.llm.get_input_embeddings()(input_ids)
        projected = self.project_media(media) if projected is None else projected
        for m in MEDIA_MODALITIES:
            mask = input_ids == self.special_ids.placeholders[m]
            n_slots = int(mask.sum())
            if m not in projected:
                if n_slots:
                    raise InputError(f"{m} placeholders", f"the prompt has {n_slots} {m} placeholder ids but no {m} was given")
                continue
            vecs = projected[m]
            if vecs.shape[0] != n_slots:
                raise InputError(f"{m} placeholders", f"the prompt has {n_slots} {m} placeholder ids but the "
                                 f"{media.count(m)} {m} item(s) give {vecs.shape[0]} embeddings")
            embeds = embeds.masked_scatter(mask.unsqueeze(-1), vecs.to(embeds.dtype))
        if "" in projected:  # the projector's zero row (training, no media): in the graph, worth nothing
            embeds = embeds + 0.0 * projected[""].sum().to(embeds.dtype)
        return embeds

    # ---- forward and generation --------------------------------------------------------------------
    def forward(self, input_ids, attention_mask=None, labels=None, media: MediaBatch | None = None,
                output_hidden_states: bool = False, logits_to_keep: int | torch.Tensor = 0) -> ReamoOutput:
        """`logits_to_keep` (transformers' argument): 0 for logits at every position, or a 1-D tensor of the
        sequence positions whose logits are wanted."""
        embeds = self.embed_inputs(input_ids, media)
        out = self.llm(inputs_embeds=embeds, attention_mask=attention_mask, labels=labels,
                       output_hidden_states=output_hidden_states, use_cache=False, logits_to_keep=logits_to_keep)
        hidden = out.hidden_states[-1] if output_hidden_states else None
        return ReamoOutput(loss=out.loss, logits=out.logits, hidden_states=hidden, lm_loss=out.loss)

    def last_hidden_states(self, input_ids, attention_mask=None, media: MediaBatch | None = None,
                           position_ids: torch.Tensor | None = None, projected: dict | None = None) -> torch.Tensor:
        """The LLM decoder's last (normed) hidden states [B, T, H], without the output layer (training gathers
        the positions it needs and runs the output layer on those alone). `position_ids` restarting inside a
        row, with `attention_mask=None`, mark packed examples: transformers keeps attention inside each
        (block-diagonal mask; varlen kernels with flash-attention)."""
        embeds = self.embed_inputs(input_ids, media, projected)
        decoder = self.llm.get_base_model().get_decoder()  # LoRA and the new token rows are inside it (peft)
        out = decoder(inputs_embeds=embeds, attention_mask=attention_mask, position_ids=position_ids, use_cache=False)
        return out.last_hidden_state

    @torch.no_grad()
    def generate(self, input_ids, attention_mask, media: MediaBatch | None = None, max_new_tokens: int = 128,
                 do_sample: bool = False, **kwargs) -> torch.Tensor:
        """Batched generation (left-padded prompts, KV cache). Returns only the new token ids [B, T_new]."""
        embeds = self.embed_inputs(input_ids, media)
        kwargs.setdefault("pad_token_id", self.tokenizer.pad_token_id)
        kwargs.setdefault("eos_token_id", self.tokenizer.eos_token_id)
        return self.llm.generate(inputs_embeds=embeds, attention_mask=attention_mask, max_new_tokens=max_new_tokens,
                                 do_sample=do_sample, use_cache=True, **kwargs)

    # ---- batches ---------------------------------------------------------------------------------------
    def prompt(self, task: str, schema: dict, text: str | None, modalities, schema_text: str | None = None) -> str:
        """The full prompt text (chat template included) for one input."""
        from reamo.model.prompts import build_prompt, chat_prompt

        user = build_prompt(task, schema, text, modalities, {m: self.processor.placeholder(m) for m in MEDIA_MODALITIES},
                            schema_text=schema_text)
        return chat_prompt(user, self.config.llm.chat_template)

    @staticmethod
    def media_batch(loaded: list[dict]) -> MediaBatch:
        """Stack loaded media (reamo.model.inputs.LoadedMedia per modality, one dict per row) in row order."""
        inputs = {}
        for m in MEDIA_MODALITIES:
            xs = [d[m].encoder_input for d in loaded if m in d]
            if xs:
                inputs[m] = torch.stack(xs)
        return MediaBatch(inputs)

    def instruction_end_positions(self, input_ids: torch.Tensor, labels: torch.Tensor | None = None) -> list[list[int]]:
        """Per row, the positions of `</Instruction>` tokens (in the answer part when labels are given)."""
        hit = input_ids == self.special_ids.instruction_end
        if labels is not None:
            hit &= labels != IGNORE_INDEX
        return [row.nonzero().flatten().tolist() for row in hit]

    def training_losses(self, batch, weights, all_heads: bool = False) -> dict[str, torch.Tensor]:
        """LM loss on the answer tokens + grounding losses of the answer's instructions, weighted.

        `batch.grounding["requests"]` holds one GroundingRequest per `</Instruction>` of the answers (row-major,
        in order) and `batch.grounding["positions"]` their (row, position); the query of each is the LLM's
        last hidden state at that position (trainable end to end, as LISA does with [SEG]).
        `all_heads`: every grounding head runs, on a stand-in input worth 0 where this batch asks nothing of it
        (the training loop sets it when any example of the phase has a grounding target, so that every rank
        runs the same modules and reduces the same gradients each step). `batch.position_ids`, when set, marks
        packed rows (several examples per row, see training.packing)."""
        requests = batch.grounding.get("requests") or []
        # Logits only at the positions whose next token is an answer token, row by row: the vocabulary projection
        # and the cross-entropy over prompt positions (and, in packed or unevenly long rows, over other rows' answer
        # columns) would be computed and then ignored. The LLM's decoder alone runs; its output layer (peft's
        # wrapper with the new token rows, which rebuilds the vocabulary matrix at each call) runs once, on the
        # gathered positions.
        targets = batch.labels[:, 1:]
        rows_a, cols_a = (targets != IGNORE_INDEX).nonzero(as_tuple=True)
        projected = self.project_media(batch.media)
        position_ids = getattr(batch, "position_ids", None)
        hidden = self.last_hidden_states(batch.input_ids, None if position_ids is not None else batch.attention_mask,
                                         batch.media, position_ids=position_ids, projected=projected)
        logits = self.llm.get_output_embeddings()(hidden[rows_a, cols_a]).float()
        lm = torch.nn.functional.cross_entropy(logits, targets[rows_a, cols_a], reduction="sum")
        # divided by this batch's answer tokens (transformers' causal-LM mean), or by the count the training
        # loop gives (global answer tokens / world size: exact data parallelism)
        denom = getattr(batch, "lm_denominator", None)
        lm = lm / (max(1, rows_a.numel()) if denom is None else denom)
        parts = {"lm_loss": lm.detach()}
        loss = weights.lm * lm
        if requests or all_heads:
            rows, pos = batch.grounding["positions"] if requests else ([], [])
            # each request's query, then the stand-ins' query: a zero row that is part of the same graph
            queries = torch.cat([hidden[rows, pos], hidden[:1, 0] * 0.0])
            g = self.heads.losses(requests, all_heads=all_heads, queries=queries)
            if g.mask is not None:
                loss = loss + weights.mask * g.mask
                parts["mask_loss"] = g.mask.detach()
            if g.span is not None:
                loss = loss + weights.span * g.span
                parts["span_loss"] = g.span.detach()
            if g.idle is not None:
                loss = loss + g.idle
        if weights.bind > 0 and batch.media is not None:
            b = self.binding_loss(batch.input_ids, batch.media, projected)
            if b is not None:
                loss = loss + weights.bind * b
                parts["bind_loss"] = b.detach()
        scale = getattr(batch, "loss_scale", 1.0)
        if scale != 1.0:  # 0: a stand-in micro-batch (all of this rank's items failed to load)
            loss = loss * scale
        parts["loss"] = loss
        return parts

    def binding_loss(self, input_ids: torch.Tensor, media: MediaBatch,
                     projected: dict[str, torch.Tensor] | None = None) -> torch.Tensor | None:
        """reamo.model.binding's loss over the rows of a batch that show two media (None when no row does)."""
        present = media.modalities()
        projected = self.project_media(media) if projected is None else projected
        rows = media_rows(input_ids, {m: self.special_ids.placeholders[m] for m in present})
        pooled = {m: projected[m].view(media.count(m), self.config.media_tokens[m], -1)[:, 0] for m in present}
        return binding_loss(pooled, rows)

    def frozen_encoders(self) -> list[tuple[nn.Module, str]]:
        """(parent, attribute) of each frozen encoder: ImageBind, and SAM's image encoder when there is an image
        head. They never train; training keeps them outside DeepSpeed's engine (training.engine)."""
        out = [(self, "encoder")]
        if getattr(self.heads, "image", None) is not None:
            out.append((self.heads.image, "image_encoder"))
        return out

    # ---- parameters ----------------------------------------------------------------------------------
    def num_parameters(self) -> dict[str, int]:
        def count(mod):
            return sum(p.numel() for p in mod.parameters())

        return {"encoder": count(self.encoder), "projector": count(self.projector), "llm": count(self.llm),
                "heads": count(self.heads), "trainable": sum(p.numel() for p in self.parameters() if p.requires_grad),
                "total": count(self)}
