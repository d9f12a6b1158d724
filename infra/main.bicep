// AmDistill on Azure Container Apps: the shape `azd infra synth` gives an Aspire app, completed by hand.
// Workers scale on their consumer group's lag (KEDA redis-streams, down to zero); the trainer is a job on a GPU profile.
targetScope = 'resourceGroup'

@description('Name of the azd environment; prefixes every resource.')
@minLength(1)
@maxLength(20)
param environmentName string

@description('Location of every resource.')
param location string = resourceGroup().location

@description('Container images, one per service (azd fills them on deploy).')
param images object = {
  api: 'mcr.microsoft.com/dotnet/samples:aspnetapp'
  generation: 'mcr.microsoft.com/dotnet/samples:aspnetapp'
  verification: 'mcr.microsoft.com/dotnet/samples:aspnetapp'
  scoring: 'mcr.microsoft.com/dotnet/samples:aspnetapp'
  trainer: 'mcr.microsoft.com/dotnet/samples:aspnetapp'
  teacherSim: 'mcr.microsoft.com/dotnet/samples:aspnetapp'
  trainerGpu: 'mcr.microsoft.com/dotnet/samples:aspnetapp'
}

@description('Entra ID app registration (client id) that signs users in to the Api: its only external ingress is never open.')
@minLength(1)
param apiAuthClientId string

@description('Real teachers: [{ name, endpoint, model, provider }]; each one\'s key is a Key Vault secret "<name>-api-key".')
param teachers array = []

@description('GPU workload profile for the trainer job.')
@allowed([
  'Consumption-GPU-NC24-A100'
  'Consumption-GPU-NC8as-T4'
])
param gpuProfileType string = 'Consumption-GPU-NC24-A100'

@description('Most replicas of each worker; generation scales with the teachers\' rate limits, verification with its CPU.')
param maxReplicas object = {
  generation: 20
  verification: 40
  scoring: 10
}

@description('OTLP endpoint for traces and metrics (an OpenTelemetry collector, or the standalone Aspire dashboard); empty: logs only.')
param otlpEndpoint string = ''

@description('Create Azure Container Apps dynamic sessions (a Python code interpreter pool) as the code sandbox backend.')
param enableCodeSessions bool = false

@description('Put the environment in a virtual network and reach Redis, the dataset storage and Key Vault only through private endpoints (their public access disabled).')
param privateNetworking bool = false

var prefix = toLower(environmentName)
var tags = { 'azd-env-name': environmentName }

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  params: { prefix: prefix, location: location, tags: tags }
}

module identity 'modules/identity.bicep' = {
  name: 'identity'
  params: { prefix: prefix, location: location, tags: tags, apps: ['api', 'generation', 'verification', 'scoring', 'trainer', 'trainerGpu', 'teacherSim'] }
}

// Each app's identity by name: { id, clientId, principalId }.
var identities = toObject(identity.outputs.identities, app => app.name)

module vault 'modules/vault.bicep' = {
  name: 'vault'
  params: {
    prefix: prefix
    location: location
    tags: tags
    teacherNames: map(teachers, teacher => teacher.name)
    teacherKeyReader: identities.generation.principalId
    privateNetworking: privateNetworking
  }
}

module redis 'modules/redis.bicep' = {
  name: 'redis'
  params: {
    prefix: prefix
    location: location
    tags: tags
    vaultName: vault.outputs.name
    connectionReaders: map(['api', 'generation', 'verification', 'scoring', 'trainer', 'trainerGpu'], app => identities[app].principalId)
    passwordReaders: map(['generation', 'verification', 'scoring', 'trainerGpu'], app => identities[app].principalId)
    privateNetworking: privateNetworking
  }
}

module network 'modules/network.bicep' = if (privateNetworking) {
  name: 'network'
  params: { prefix: prefix, location: location, tags: tags }
}

module environment 'modules/environment.bicep' = {
  name: 'environment'
  params: {
    prefix: prefix
    location: location
    tags: tags
    logAnalyticsWorkspaceName: monitoring.outputs.workspaceName
    gpuProfileType: gpuProfileType
    infrastructureSubnetId: privateNetworking ? network!.outputs.appsSubnetId : ''
    privateNetworking: privateNetworking
  }
}

module privateEndpoints 'modules/private-endpoints.bicep' = if (privateNetworking) {
  name: 'private-endpoints'
  params: {
    prefix: prefix
    location: location
    tags: tags
    subnetId: network!.outputs.endpointsSubnetId
    dnsZoneIds: network!.outputs.dnsZoneIds
    targets: [
      { kind: 'redis', id: redis.outputs.id, groupId: 'redisEnterprise' }
      { kind: 'file', id: environment.outputs.storageAccountId, groupId: 'file' }
      { kind: 'vault', id: vault.outputs.id, groupId: 'vault' }
    ]
  }
}

module apps 'modules/apps.bicep' = {
  name: 'apps'
  params: {
    prefix: prefix
    location: location
    tags: tags
    environmentId: environment.outputs.environmentId
    identities: identities
    registryServer: identity.outputs.registryServer
    redisHost: redis.outputs.hostName
    redisPort: redis.outputs.sslPort
    redisAuthVaultUri: redis.outputs.redisAuthVaultUri
    redisConnectionVaultUri: redis.outputs.redisConnectionVaultUri
    gpuResources: gpuProfileType == 'Consumption-GPU-NC24-A100' ? { cpu: 24, memory: '220Gi' } : { cpu: 8, memory: '56Gi' }
    keyVaultUri: vault.outputs.uri
    otlpEndpoint: otlpEndpoint
    images: images
    teachers: teachers
    maxReplicas: maxReplicas
    apiAuthClientId: apiAuthClientId
    datasetStorageName: environment.outputs.datasetStorageName
  }
}

module sessions 'modules/sessions.bicep' = if (enableCodeSessions) {
  name: 'sessions'
  params: { prefix: prefix, location: location, tags: tags, environmentId: environment.outputs.environmentId }
}

output AZURE_CONTAINER_REGISTRY_ENDPOINT string = identity.outputs.registryServer
output AZURE_CONTAINER_APPS_ENVIRONMENT_ID string = environment.outputs.environmentId
output API_URL string = apps.outputs.apiUrl
output KEY_VAULT_URI string = vault.outputs.uri
output CODE_SESSIONS_ENDPOINT string = enableCodeSessions ? sessions!.outputs.poolManagementEndpoint : ''
