// The services as container apps. Workers scale on their consumer group's lag (KEDA redis-streams, to zero when idle);
// the Api is the only external ingress; the GPU trainer is an event-driven job on the GPU profile. Each app runs as its
// own identity and lists only the secrets it needs: the teacher keys reach generation alone; verification, which runs
// untrusted code, holds nothing but the Redis connection it consumes from.
param prefix string
param location string
param tags object
param environmentId string

@description('Per app (api, generation, verification, scoring, trainer, trainerGpu, teacherSim): its identity\'s id, clientId and principalId.')
param identities object
param registryServer string
param redisHost string
param redisPort int
param redisAuthVaultUri string
param redisConnectionVaultUri string
param keyVaultUri string
param otlpEndpoint string
param images object
param teachers array
param maxReplicas object
param apiAuthClientId string
param gpuResources object

@description('The environment storage (Azure Files) mounted at /data by every service that reads or writes the dataset store.')
param datasetStorageName string

@description('Unacknowledged entries per replica before another replica is added.')
param lagPerReplica int = 100

// Key Vault references, each resolved with the app's own identity (granted that secret alone, vault.bicep and redis.bicep).
func vaultSecret(name string, url string, identityId string) object => { name: name, keyVaultUrl: url, identity: identityId }

var teacherSecrets = [for teacher in teachers: vaultSecret('${teacher.name}-api-key', '${keyVaultUri}secrets/${teacher.name}-api-key', identities.generation.id)]

// The connection string for the service; the password for the KEDA rule of an app that scales on a stream's lag.
func redisSecrets(identityId string, connectionUri string, passwordUri string, scales bool) array => concat(
  [vaultSecret('redis-connection', connectionUri, identityId)],
  scales ? [vaultSecret('redis-password', passwordUri, identityId)] : [])

func appEnv(identityClientId string, prefix string, otlpEndpoint string) array => concat([
  { name: 'ConnectionStrings__redis', secretRef: 'redis-connection' }
  { name: 'services__teacher-sim__http__0', value: 'http://${prefix}-teacher-sim' }
  { name: 'AZURE_CLIENT_ID', value: identityClientId }
], empty(otlpEndpoint) ? [] : [
  { name: 'OTEL_EXPORTER_OTLP_ENDPOINT', value: otlpEndpoint }
])

// Sign-in by Entra ID (the app registration apiAuthClientId) for apps with an HTTP API: callers get the app roles of
// that registration (AmDistill.Reader, AmDistill.Operator), which the services check per endpoint (Access__Mode).
var signedInAccess = [{ name: 'Access__Mode', value: 'ContainerApps' }]
var allowedAudiences = [apiAuthClientId, 'api://${apiAuthClientId}']

// Real teachers, keyed by name beside the simulated ones of the generation service's appsettings.json.
var teacherSettings = [for teacher in teachers: [
  { name: 'Generation__Teachers__${teacher.name}__Endpoint', value: teacher.endpoint }
  { name: 'Generation__Teachers__${teacher.name}__Model', value: teacher.model }
  { name: 'Generation__Teachers__${teacher.name}__Provider', value: teacher.?provider ?? 'OpenAI' }
  { name: 'Generation__Teachers__${teacher.name}__ApiKey', secretRef: '${teacher.name}-api-key' }
]]

var teacherEnv = flatten(teacherSettings)

// One store for all: verification writes samples, scoring query records, the api inputs, exports and reports, the
// trainer materialises training files and writes checkpoints.
var datasetVolumes = [{ name: 'dataset', storageName: datasetStorageName, storageType: 'AzureFile' }]
var datasetMounts = [{ volumeName: 'dataset', mountPath: '/data' }]
var datasetEnv = [
  { name: 'DatasetStore__Root', value: '/data/store' }
  { name: 'Trainer__OutputRoot', value: '/data/training-runs' }
]

// generation and verification serve no HTTP API (the probes reach the container without an ingress); scoring serves
// per-query scores to signed-in readers inside the environment.
var workers = [
  { name: 'generation', image: images.generation, stream: 'amdistill:generation', group: 'generation', maxReplicas: maxReplicas.generation, env: teacherEnv, secrets: teacherSecrets, ingress: false }
  { name: 'verification', image: images.verification, stream: 'amdistill:verification', group: 'verification', maxReplicas: maxReplicas.verification, env: datasetEnv, secrets: [], ingress: false }
  { name: 'scoring', image: images.scoring, stream: 'amdistill:scoring', group: 'scoring', maxReplicas: maxReplicas.scoring, env: concat(datasetEnv, signedInAccess), secrets: [], ingress: true }
]

// The stream-lag rule of a worker's consumer group.
func lagRule(address string, stream string, group string, lagCount int) object => {
  name: 'stream-lag'
  custom: {
    type: 'redis-streams'
    metadata: { address: address, stream: stream, consumerGroup: group, lagCount: string(lagCount), enableTLS: 'true' }
    auth: [{ secretRef: 'redis-password', triggerParameter: 'password' }]
  }
}

var probes = [
  { type: 'Liveness', httpGet: { path: '/alive', port: 8080 } }
  { type: 'Readiness', httpGet: { path: '/health', port: 8080 } }
]

func registries(server string, identityId string) array => [{ server: server, identity: identityId }]

resource workerApps 'Microsoft.App/containerApps@2024-03-01' = [for worker in workers: {
  name: '${prefix}-${worker.name}'
  location: location
  tags: union(tags, { 'azd-service-name': worker.name })
  identity: { type: 'UserAssigned', userAssignedIdentities: { '${identities[worker.name].id}': {} } }
  properties: {
    environmentId: environmentId
    workloadProfileName: 'Consumption'
    configuration: {
      ingress: worker.ingress ? { external: false, targetPort: 8080 } : null
      registries: registries(registryServer, identities[worker.name].id)
      secrets: concat(redisSecrets(identities[worker.name].id, redisConnectionVaultUri, redisAuthVaultUri, true), worker.secrets)
    }
    template: {
      containers: [
        {
          name: worker.name
          image: worker.image
          resources: { cpu: json('1.0'), memory: '2Gi' }
          env: concat(appEnv(identities[worker.name].clientId, prefix, otlpEndpoint), worker.env)
          probes: probes
          volumeMounts: worker.name == 'generation' ? [] : datasetMounts
        }
      ]
      volumes: worker.name == 'generation' ? [] : datasetVolumes
      scale: {
        minReplicas: 0
        maxReplicas: worker.maxReplicas
        rules: [lagRule('${redisHost}:${redisPort}', worker.stream, worker.group, lagPerReplica)]
      }
    }
  }
}]

resource teacherSim 'Microsoft.App/containerApps@2024-03-01' = {
  name: '${prefix}-teacher-sim'
  location: location
  tags: union(tags, { 'azd-service-name': 'teacher-sim' })
  // Simulated completions only: no secret, no data, no access to anything but its image.
  identity: { type: 'UserAssigned', userAssignedIdentities: { '${identities.teacherSim.id}': {} } }
  properties: {
    environmentId: environmentId
    workloadProfileName: 'Consumption'
    configuration: {
      ingress: { external: false, targetPort: 8080 }
      registries: registries(registryServer, identities.teacherSim.id)
    }
    template: {
      containers: [
        {
          name: 'teacher-sim'
          image: images.teacherSim
          resources: { cpu: json('1.0'), memory: '2Gi' }
          probes: probes
        }
      ]
      scale: { minReplicas: 1, maxReplicas: 3 }
    }
  }
}

resource api 'Microsoft.App/containerApps@2024-03-01' = {
  name: '${prefix}-api'
  location: location
  tags: union(tags, { 'azd-service-name': 'api' })
  identity: { type: 'UserAssigned', userAssignedIdentities: { '${identities.api.id}': {} } }
  properties: {
    environmentId: environmentId
    workloadProfileName: 'Consumption'
    configuration: {
      ingress: { external: true, targetPort: 8080, transport: 'auto', allowInsecure: false }
      registries: registries(registryServer, identities.api.id)
      secrets: redisSecrets(identities.api.id, redisConnectionVaultUri, redisAuthVaultUri, false)
    }
    template: {
      containers: [
        {
          name: 'api'
          image: images.api
          resources: { cpu: json('0.5'), memory: '1Gi' }
          env: concat(appEnv(identities.api.clientId, prefix, otlpEndpoint), datasetEnv, signedInAccess, [
            { name: 'services__trainer__http__0', value: 'http://${prefix}-trainer' }
            // Its calls to the trainer carry a token of its identity for the same app registration.
            { name: 'Access__TokenAudience', value: apiAuthClientId }
          ])
          probes: probes
          volumeMounts: datasetMounts
        }
      ]
      volumes: datasetVolumes
      scale: { minReplicas: 1, maxReplicas: 3 }
    }
  }
}

// Users sign in with Entra ID; unauthenticated API calls get 401, and the Api checks their app roles per endpoint.
resource apiAuth 'Microsoft.App/containerApps/authConfigs@2024-03-01' = {
  parent: api
  name: 'current'
  properties: signIn(apiAuthClientId, allowedAudiences, [])
}

// Entra ID sign-in on an app; with identities, only those callers (object ids) are let in by the platform.
func signIn(clientId string, audiences array, identities array) object => {
  platform: { enabled: true }
  globalValidation: { unauthenticatedClientAction: 'Return401' }
  identityProviders: {
    azureActiveDirectory: {
      enabled: true
      registration: {
        clientId: clientId
        openIdIssuer: '${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0'
      }
      validation: union({ allowedAudiences: audiences }, empty(identities) ? {} : {
        defaultAuthorizationPolicy: { allowedPrincipals: { identities: identities } }
      })
    }
  }
}

// Scoring's per-query scores: signed-in readers within the environment.
resource scoringAuth 'Microsoft.App/containerApps/authConfigs@2024-03-01' = {
  parent: workerApps[2]
  name: 'current'
  properties: signIn(apiAuthClientId, allowedAudiences, [])
}

// The trainer's API (submit, status, cancel) on the Consumption profile; the jobs themselves run in the GPU job below.
resource trainerApi 'Microsoft.App/containerApps@2024-03-01' = {
  name: '${prefix}-trainer'
  location: location
  tags: union(tags, { 'azd-service-name': 'trainer' })
  identity: { type: 'UserAssigned', userAssignedIdentities: { '${identities.trainer.id}': {} } }
  properties: {
    environmentId: environmentId
    workloadProfileName: 'Consumption'
    configuration: {
      ingress: { external: false, targetPort: 8080 }
      registries: registries(registryServer, identities.trainer.id)
      secrets: redisSecrets(identities.trainer.id, redisConnectionVaultUri, redisAuthVaultUri, false)
    }
    template: {
      containers: [
        {
          name: 'trainer'
          image: images.trainer
          resources: { cpu: json('0.5'), memory: '1Gi' }
          env: concat(appEnv(identities.trainer.clientId, prefix, otlpEndpoint), datasetEnv, signedInAccess, [
            { name: 'Trainer__RunJobs', value: 'false' }
            { name: 'Access__ServiceCallers__0', value: identities.api.principalId }
          ])
          probes: probes
          volumeMounts: datasetMounts
        }
      ]
      volumes: datasetVolumes
      scale: { minReplicas: 0, maxReplicas: 1 }
    }
  }
}

// Only the Api's identity may call the trainer: the platform turns everyone else away, and the trainer checks it too.
resource trainerAuth 'Microsoft.App/containerApps/authConfigs@2024-03-01' = {
  parent: trainerApi
  name: 'current'
  properties: signIn(apiAuthClientId, allowedAudiences, [identities.api.principalId])
}

// Training runs on the GPU profile as an event-driven job: KEDA starts an execution when the trainer group has queued
// jobs; the trainer service inside the GPU image runs them (python -m amdistill_trainer) and exits once idle.
resource trainerJob 'Microsoft.App/jobs@2024-03-01' = {
  name: '${prefix}-trainer-gpu'
  location: location
  tags: union(tags, { 'azd-service-name': 'trainer-gpu' })
  identity: { type: 'UserAssigned', userAssignedIdentities: { '${identities.trainerGpu.id}': {} } }
  properties: {
    environmentId: environmentId
    workloadProfileName: 'gpu'
    configuration: {
      triggerType: 'Event'
      replicaTimeout: 14 * 86400
      replicaRetryLimit: 1
      eventTriggerConfig: {
        parallelism: 1
        replicaCompletionCount: 1
        scale: {
          minExecutions: 0
          maxExecutions: 1
          pollingInterval: 60
          rules: [lagRule('${redisHost}:${redisPort}', 'amdistill:training', 'trainer', 1)]
        }
      }
      registries: registries(registryServer, identities.trainerGpu.id)
      secrets: redisSecrets(identities.trainerGpu.id, redisConnectionVaultUri, redisAuthVaultUri, true)
    }
    template: {
      containers: [
        {
          name: 'trainer'
          image: images.trainerGpu
          command: ['/app/service/AmDistill.Trainer']
          resources: { cpu: gpuResources.cpu, memory: gpuResources.memory }
          env: concat(appEnv(identities.trainerGpu.clientId, prefix, otlpEndpoint), datasetEnv, [
            { name: 'NVIDIA_VISIBLE_DEVICES', value: 'all' }
            { name: 'Trainer__ExitAfterIdle', value: '00:05:00' }
          ])
          volumeMounts: datasetMounts
        }
      ]
      volumes: datasetVolumes
    }
  }
}

output apiUrl string = 'https://${api.properties.configuration.ingress.fqdn}'
